#!/usr/bin/env bash
# The Python client's checks, offline, with Debian's packages (python3-venv,
# python3-httpx, python3-pytest, mypy, python3-setuptools, python3-wheel):
# a venv that sees them, the package installed into it from this directory,
# mypy --strict, pytest (unit tests and the conformance scenarios against
# the octostore binary it builds with `go build`), and a wheel in
# $OCTOSTORE_ARTIFACTS (else clients/python/dist).
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
# Debian's interpreter, whatever python3 comes first on PATH (pyenv's has
# none of the packages).
PY=/usr/bin/python3
export PATH="$PATH:/usr/local/go/bin"

venv=$(mktemp -d "${TMPDIR:-/tmp}/octostore-pyvenv.XXXXXX")
trap 'rm -rf "$venv" "$here/build" "$here"/src/*.egg-info' EXIT
"$PY" -m venv --system-site-packages "$venv"
# --no-index: everything needed is installed already; never reach for PyPI.
"$venv/bin/python" -m pip install --quiet --no-index --no-build-isolation "$here"

# The installed package, not the source tree, is what the tests import.
cd "$venv"
"$venv/bin/python" -c 'import octostore, sys; print("octostore", octostore.__version__, "on Python", sys.version.split()[0])'
cd "$here"
MYPYPATH="$here/tests" "$venv/bin/python" -m mypy --strict --cache-dir "$venv/mypy-cache" src tests
"$venv/bin/python" -m pytest -p no:cacheprovider -q tests

out="${OCTOSTORE_ARTIFACTS:-$here/dist}"
mkdir -p "$out"
"$venv/bin/python" -m pip wheel --quiet --no-index --no-build-isolation --no-deps -w "$out" "$here"
ls "$out"/octostore-*.whl
