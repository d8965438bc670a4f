#!/usr/bin/env bash
# Semaphores and shared holders next to the uncontended lock (issue #18),
# on one single node, with OctoStore's own load generator: the plain
# uncontended workload (fresh names), a semaphore of N slots on one name,
# and shared holders of one name, REPS rounds alternating the three.
# Everything on 127.0.0.1; data under /tmp. Prints one line per run and
# the medians.
#
#   bench/prims.sh                        # 64 clients, N = 16, 10 s, 3 rounds
#   CONCURRENCY=16 LIMIT=4 REPS=5 bench/prims.sh
#   NICE="nice -n 19" bench/prims.sh      # on a machine shared with others
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
CONCURRENCY="${CONCURRENCY:-64}"
LIMIT="${LIMIT:-16}"
DURATION="${DURATION:-10s}"
REPS="${REPS:-3}"
NICE="${NICE:-}"
. bench/lib.sh
bench_setup prims-bench
BIN="$WORK/octostore"
URL=http://127.0.0.1:13300

$NICE go build -o "$BIN" ./cmd/octostore
$NICE "$BIN" serve --listen 127.0.0.1:13300 --data-dir "$WORK/data" 2>"$WORK/server.log" & PID=$!
bench_wait "$URL" || { echo "the server did not start; see $WORK/server.log" >&2; exit 1; }

declare -A ARGS=(
  [uncontended]=""
  [semaphore]="--limit $LIMIT"
  [shared]="--shared"
)
declare -A RATES=()
for rep in $(seq 1 "$REPS"); do
  for w in uncontended semaphore shared; do
    # shellcheck disable=SC2086
    out=$($NICE "$BIN" bench --url "$URL" --token "$TOKEN" --concurrency "$CONCURRENCY" --duration "$DURATION" \
      ${ARGS[$w]} --json) || { echo "$w: bench failed: $out" >&2; exit 1; }
    line=$(jq -r --arg w "$w" --arg rep "$rep" '"\($rep) \($w): \(.cycles_per_sec|floor) cycles/s, errors \(.errors), violations \(.violations), acquire p50/p99 \(.acquire.p50_ns/1e6*100|floor/100)/\(.acquire.p99_ns/1e6*100|floor/100) ms, release p50/p99 \(.release.p50_ns/1e6*100|floor/100)/\(.release.p99_ns/1e6*100|floor/100) ms, per worker \(.min_worker_cycles)..\(.max_worker_cycles)"' <<<"$out")
    echo "$line"
    RATES[$w]+="$(jq -r '.cycles_per_sec|floor' <<<"$out") "
  done
done
echo "== medians ($CONCURRENCY clients, $DURATION, $REPS rounds; semaphore of $LIMIT slots)"
for w in uncontended semaphore shared; do
  # shellcheck disable=SC2086
  echo "$w: $(printf '%s\n' ${RATES[$w]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') cycles/s (runs: ${RATES[$w]% })"
done
