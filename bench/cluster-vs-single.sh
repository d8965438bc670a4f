#!/usr/bin/env bash
# Throughput of a 3-node cluster next to a single node, in one run, with
# OctoStore's own load generator. Everything on 127.0.0.1; data under /tmp.
#
#   bench/cluster-vs-single.sh            # 64 clients, 10 s windows
#   CONCURRENCY=16 DURATION=5s bench/cluster-vs-single.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
CONCURRENCY="${CONCURRENCY:-64}"
DURATION="${DURATION:-10s}"
WORK="$(mktemp -d /tmp/octostore-cluster-bench.XXXXXX)"
BIN="$WORK/octostore"
TOKEN="bench-token-$RANDOM$RANDOM$RANDOM$RANDOM"
export OCTOSTORE_TOKENS="bench:$TOKEN"
# one user drives all the load: lift the per-user limits
export OCTOSTORE_RATE_LIMIT=0 OCTOSTORE_MAX_LOCKS_PER_USER=0 OCTOSTORE_MAX_SESSIONS_PER_USER=0
KEY="bench-cluster-key-$RANDOM$RANDOM$RANDOM"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

go build -o "$BIN" ./cmd/octostore

. bench/lib.sh # bench_wait; this script's cleanup stops several servers

run_bench() { # $1 label, $2 url
  echo "== $1 ($CONCURRENCY clients, $DURATION)"
  "$BIN" bench --url "$2" --token "$TOKEN" --concurrency "$CONCURRENCY" --duration "$DURATION"
}

# Single node.
"$BIN" serve --listen 127.0.0.1:13100 --data-dir "$WORK/single" 2>"$WORK/single.log" & PIDS+=($!)
bench_wait http://127.0.0.1:13100
run_bench "single node" http://127.0.0.1:13100
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true

# Three nodes.
for i in 1 2 3; do
  join=()
  [[ $i -gt 1 ]] && join=(--join 127.0.0.1:13201) # a member's Raft address
  OCTOSTORE_CLUSTER_KEY="$KEY" "$BIN" serve --node-id "n$i" --listen "127.0.0.1:1310$i" --raft-addr "127.0.0.1:1320$i" \
    --data-dir "$WORK/n$i" "${join[@]}" 2>"$WORK/n$i.log" & PIDS+=($!)
  bench_wait "http://127.0.0.1:1310$i"
done
for _ in $(seq 1 100); do
  members=$(curl -fs -H "Authorization: Bearer $TOKEN" http://127.0.0.1:13101/cluster | grep -o '"voter":true' | wc -l || true)
  [[ "$members" == 3 ]] && break; sleep 0.1
done
leader_http=$(curl -fs -H "Authorization: Bearer $TOKEN" http://127.0.0.1:13101/cluster |
  sed 's/.*"leader":"\([^"]*\)".*/\1/')
run_bench "3-node cluster, clients on the leader ($leader_http)" "http://127.0.0.1:1310${leader_http#n}"
run_bench "3-node cluster, clients on a follower (one forwarding hop)" "http://127.0.0.1:1310$(( (${leader_http#n} % 3) + 1 ))"
