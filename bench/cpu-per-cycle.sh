#!/usr/bin/env bash
# Server CPU per acquire+release cycle (issue #16 point 3): BEFORE (a git
# rev, default 6d697fc, the code before issue #16), the work tree, and
# bench/floor (net/http answering the same requests with no state, Raft or
# disk), each under `octostore bench` at CONCURRENCY clients, alternating,
# REPS times. CPU is the server process's utime+stime from /proc over the
# run, divided by the cycles the bench completed. Everything on 127.0.0.1;
# data under /tmp. Prints one line per run; take the medians.
#
#   bench/cpu-per-cycle.sh                   # 64 clients, 10 s, 3 reps
#   CONCURRENCY="1 64" REPS=5 bench/cpu-per-cycle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BEFORE="${BEFORE:-6d697fc}"
CONCURRENCY="${CONCURRENCY:-64}"
DURATION="${DURATION:-10s}"
REPS="${REPS:-3}"
. bench/lib.sh
bench_setup cpu-bench

mkdir "$WORK/src"
git archive "$BEFORE" | tar -x -C "$WORK/src"
(cd "$WORK/src" && go build -o "$WORK/before" ./cmd/octostore)
go build -o "$WORK/after" ./cmd/octostore
go build -o "$WORK/floor" ./bench/floor
HZ=$(getconf CLK_TCK)

start() { # $1 binary name, $2 port, $3 data dir
  if [[ $1 == floor ]]; then "$WORK/floor" "127.0.0.1:$2" 2>"$3.log" & PID=$!
  else "$WORK/$1" serve --listen "127.0.0.1:$2" --data-dir "$3" 2>"$3.log" & PID=$!; fi
  bench_wait "http://127.0.0.1:$2" || { echo "$1 did not start; see $3.log" >&2; return 1; }
}

run() { # $1 binary name, $2 clients, $3 rep
  local port=$((13200 + RANDOM % 1000)) dir="$WORK/data-$1-$2-$3" out u0 s0 u1 s1 cycles
  start "$1" "$port" "$dir"
  read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$PID/stat")
  out=$("$WORK/after" bench --url "http://127.0.0.1:$port" --token "$TOKEN" --concurrency "$2" --duration "$DURATION")
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$PID/stat")
  cycles=$(awk '$1=="release"{print $2}' <<<"$out")
  awk -v n="$1" -v c="$2" -v r="$3" -v hz="$HZ" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v k="$cycles" -v d="$DURATION" \
    'BEGIN{printf "%-6s %3d clients rep %d: %7.0f cycles/s  server CPU %6.1f µs/cycle (user %5.1f, sys %5.1f)\n",
      n, c, r, k/(d+0), (u+s)*1e6/hz/k, u*1e6/hz/k, s*1e6/hz/k}'
  bench_stop
}

for c in $CONCURRENCY; do
  for r in $(seq 1 "$REPS"); do
    run before "$c" "$r"
    run after "$c" "$r"
    run floor "$c" "$r"
  done
done
