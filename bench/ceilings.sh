#!/usr/bin/env bash
# The ceilings behind issue #16's goals, measured in the same minutes as
# OctoStore and Redis (appendfsync always) with the shared load generator:
#
#   redis-aof    redis-server --appendonly yes --appendfsync always
#   raw+fsync    bench/floor -raw -fsync: a hand-written HTTP/1.1 loop that
#                writes and fdatasyncs one record per acquire and release
#   http+fsync   bench/floor -fsync: the same on net/http
#   raw, http    bench/floor -raw, bench/floor: no disk at all
#   octostore    the work tree
#
# alternated REPS times at each of WORKERS, uncontended acquire+release
# cycles. Prints cycles/s, acquire p99, server CPU per cycle and the load
# generator's CPU per run, then the medians. One client is the case the durable ceilings are for:
# its cycle is the request round trips and the fsyncs, one after another
# (the +fsync floors sync one request at a time, so they run only at one
# client); at more clients the disk-less floors bound the CPU per cycle.
#
#   bench/ceilings.sh                          # 1 client, 8 s, 3 reps
#   WORKERS="1 16" REPS=5 bench/ceilings.sh
#   LOADGEN=/path/to/loadgen TARGETS="raw+fsync octostore" bench/ceilings.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LOADGEN="${LOADGEN:-../shared/bench/bin/loadgen}"
WORKERS="${WORKERS:-1}"
DURATION="${DURATION:-8s}"
REPS="${REPS:-3}"
TARGETS="${TARGETS:-redis-aof raw+fsync http+fsync octostore}"
[[ -x $LOADGEN ]] || { echo "no load generator at $LOADGEN (build ../shared/bench/loadgen, or set LOADGEN)" >&2; exit 1; }
. bench/lib.sh
bench_setup ceilings
go build -o "$WORK/octostore" ./cmd/octostore
go build -o "$WORK/floor" ./bench/floor

start() { # $1 target, $2 port, $3 dir; sets PID and ARGS (the loadgen's target flags)
  mkdir -p "$3"
  ARGS=(-target octostore -url "http://127.0.0.1:$2" -token "$TOKEN")
  case $1 in
    redis-aof)
      redis-server --port "$2" --bind 127.0.0.1 --dir "$3" --daemonize no --logfile "$3/log" \
        --save '' --appendonly yes --appendfsync always >/dev/null & PID=$!
      ARGS=(-target redis -label redis-aof -redis "127.0.0.1:$2") ;;
    raw+fsync) "$WORK/floor" -raw -fsync "$3" "127.0.0.1:$2" >/dev/null 2>"$3/log" & PID=$! ;;
    http+fsync) "$WORK/floor" -fsync "$3" "127.0.0.1:$2" >/dev/null 2>"$3/log" & PID=$! ;;
    raw) "$WORK/floor" -raw "127.0.0.1:$2" >/dev/null 2>"$3/log" & PID=$! ;;
    http) "$WORK/floor" "127.0.0.1:$2" >/dev/null 2>"$3/log" & PID=$! ;;
    octostore) "$WORK/octostore" serve --listen "127.0.0.1:$2" --data-dir "$3/data" >/dev/null 2>"$3/log" & PID=$! ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
  if [[ $1 != redis-aof ]]; then
    bench_wait "http://127.0.0.1:$2" && return 0
  else
    for _ in $(seq 1 300); do
      kill -0 "$PID" 2>/dev/null || break # it exited: a port taken, say; never measure another listener
      redis-cli -p "$2" ping 2>/dev/null | grep -q PONG && return 0
      sleep 0.1
    done
  fi
  echo "$1 did not start; see $3/log" >&2; return 1
}

run() { # $1 target, $2 workers, $3 rep: one measurement, appended to $WORK/lines
  local port=$((14200 + RANDOM % 1000)) dir="$WORK/$1-$2-$3" ok=0
  start "$1" "$port" "$dir" || exit 1
  "$LOADGEN" run "${ARGS[@]}" -workload uncontended -workers "$2" -duration "$DURATION" \
    -server-pid "$PID" -out "$dir/result.json" >/dev/null 2>"$dir/loadgen.log" || ok=$?
  bench_stop
  [[ $ok == 0 ]] || { echo "the load generator failed against $1; see $dir/loadgen.log" >&2; exit 1; }
  python3 - "$1" "$2" "$3" "$dir/result.json" <<'PY' | tee -a "$WORK/lines"
import json, sys
r = json.loads(open(sys.argv[4]).read().splitlines()[-1])
c = r["cycles_per_s"]
if r.get("errors") or not c:
    sys.exit(f"{sys.argv[1]}: {r.get('errors')} errors, {c} cycles/s: not a measurement")
print(f"{sys.argv[1]:11s} {sys.argv[2]:>3s} workers rep {sys.argv[3]}: {c:7.0f} cycles/s  acquire p99 {r['acquire']['p99_ms']:5.2f} ms"
      f"  server CPU {r['server_cpu_pct'] * 1e4 / c:6.1f} µs/cycle  loadgen CPU {r['loadgen_cpu_pct']:5.1f}%", flush=True)
PY
}

for w in $WORKERS; do
  for r in $(seq 1 "$REPS"); do
    for t in $TARGETS; do
      if [[ $t == redis-aof ]] && ! command -v redis-server >/dev/null; then continue; fi
      # the floors sync one request at a time: no group commit, so a
      # durable ceiling only for a single client
      if [[ $t == *+fsync && $w -gt 1 ]]; then continue; fi
      run "$t" "$w" "$r"
    done
  done
done
echo "medians:"
python3 - "$WORK/lines" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    f = line.split()
    runs[(f[0], int(f[1]))].append((float(f[5]), float(f[9]), float(f[13]), float(f[17].rstrip("%"))))
for (t, w), rs in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    med = [statistics.median(x) for x in zip(*rs)]
    print(f"{t:11s} {w:3d} workers: {med[0]:7.0f} cycles/s  acquire p99 {med[1]:5.2f} ms  server CPU {med[2]:6.1f} µs/cycle"
          f"  loadgen CPU {med[3]:5.1f}%  ({len(rs)} runs: {' / '.join(str(int(r[0])) for r in rs)})")
PY
