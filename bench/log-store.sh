#!/usr/bin/env bash
# Single node, before and after a change to the Raft log store: builds
# BEFORE (a git rev, default 8a189c1: raft-boltdb) and the work tree (the
# WAL), then runs `octostore bench` against each on a fresh data dir,
# alternating, REPS times per concurrency. Everything on 127.0.0.1; data
# under /tmp. Prints each report; take the medians.
#
#   bench/log-store.sh                       # 1 and 16 clients, 10 s, 3 reps
#   CONCURRENCY="1" REPS=5 bench/log-store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE="${BEFORE:-8a189c1}"
CONCURRENCY="${CONCURRENCY:-1 16}"
DURATION="${DURATION:-10s}"
REPS="${REPS:-3}"
. bench/lib.sh
bench_setup logstore-bench

mkdir "$WORK/src"
git archive "$BEFORE" | tar -x -C "$WORK/src"
(cd "$WORK/src" && go build -o "$WORK/before" ./cmd/octostore)
go build -o "$WORK/after" ./cmd/octostore

run() { # $1 binary name, $2 clients, $3 rep
  local port=$((13200 + RANDOM % 1000)) dir="$WORK/data-$1-$2-$3"
  "$WORK/$1" serve --listen "127.0.0.1:$port" --data-dir "$dir" 2>"$dir.log" & PID=$!
  bench_wait "http://127.0.0.1:$port" /ready || { echo "$1 did not start; see $dir.log" >&2; exit 1; }
  echo "== $1 ($(cd "$WORK" && ls -d "data-$1-$2-$3"/* | tr '\n' ' ')) $2 clients, $DURATION, rep $3"
  "$WORK/$1" bench --url "http://127.0.0.1:$port" --token "$TOKEN" --concurrency "$2" --duration "$DURATION"
  bench_stop
}

for c in $CONCURRENCY; do
  for r in $(seq 1 "$REPS"); do
    run before "$c" "$r"
    run after "$c" "$r"
  done
done
