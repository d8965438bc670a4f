# Sourced by the bench scripts, from the repository's root: bench_setup
# NAME makes $WORK (a temp dir named for NAME), a $TOKEN for the one user
# who drives all the load, with the server's per-user limits lifted
# (they would throttle it), and a cleanup on exit that stops the server
# in $PID and removes $WORK; bench_wait and bench_stop start and end a
# measurement's server.

bench_setup() {
  WORK="$(mktemp -d "/tmp/octostore-$1.XXXXXX")"
  TOKEN="bench-token-$RANDOM$RANDOM$RANDOM$RANDOM"
  export OCTOSTORE_TOKENS="bench:$TOKEN"
  export OCTOSTORE_RATE_LIMIT=0 OCTOSTORE_MAX_LOCKS_PER_USER=0 OCTOSTORE_MAX_SESSIONS_PER_USER=0 \
    OCTOSTORE_MAX_IN_FLIGHT_PER_USER=0
  PID=
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}

# bench_wait URL [PATH]: waits until URL's PATH (/health unless given)
# answers. It fails after 30 s, or at once when the server in $PID has
# exited (a port already taken, say): never measure another listener.
bench_wait() {
  for _ in $(seq 1 300); do
    if [[ -n ${PID:-} ]] && ! kill -0 "$PID" 2>/dev/null; then break; fi
    curl -fs "$1${2:-/health}" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

# bench_stop stops the server in $PID.
bench_stop() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}
