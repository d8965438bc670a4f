#!/usr/bin/env bash
# The TypeScript client's checks, as CI runs them (.ci/run calls this):
# dev tools from the lock file, generated types fresh, tsc --strict, the
# tests (node --test) against the real octostore binary (and the built
# package in chromium, Bun and Deno), npm pack.
#
# Needs Node >= 18 with npm (installed from Debian's packages when
# missing) and Go (to build the server). OCTOSTORE_TEST_BIN may name an
# octostore binary built from this tree for this run; otherwise it is
# built here, once.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export PATH="$PATH:/usr/local/go/bin"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if (( major < 18 )); then
  echo "clients/typescript needs Node >= 18, found $(node --version)"; exit 1
fi
echo "node $(node --version), npm $(npm --version)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

npm ci --no-audit --no-fund
# Bun and Deno (pinned, from the npm registry) for the smoke test on other
# runtimes; OCTOSTORE_SKIP_RUNTIMES=1 skips both (developers only).
if [[ "${OCTOSTORE_SKIP_RUNTIMES:-}" != "1" ]]; then
  npm ci --prefix test/runtimes --no-audit --no-fund
fi

# The committed types must be what openapi-typescript makes of the spec now.
./node_modules/.bin/openapi-typescript "$root/api/openapi.yaml" -o "$tmp/openapi.ts" >/dev/null
if ! diff -u src/generated/openapi.ts "$tmp/openapi.ts" > "$tmp/types.diff"; then
  head -50 "$tmp/types.diff"
  echo "src/generated/openapi.ts is stale: run 'npm run generate' in clients/typescript and commit it"; exit 1
fi

rm -rf dist test-dist
./node_modules/.bin/tsc --strict -p tsconfig.json
./node_modules/.bin/tsc --strict -p tsconfig.test.json

if [[ -z "${OCTOSTORE_TEST_BIN:-}" ]]; then
  (cd "$root" && go build -o "$tmp/octostore" ./cmd/octostore)
  export OCTOSTORE_TEST_BIN="$tmp/octostore"
fi
concurrency=()
if node --help | grep -q -- --test-concurrency; then concurrency=(--test-concurrency=2); fi
node --test "${concurrency[@]}" test-dist/test/*.test.js

npm pack --dry-run 2>&1 | tail -25
