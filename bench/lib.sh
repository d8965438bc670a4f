# Sourced by the bench scripts, from the repository's root: bench_setup
# NAME makes $WORK (a temp dir named for NAME), a $TOKEN for the one user
# who drives all the load, with the server's per-user limits lifted
# (they would throttle it), and a cleanup on exit that stops the server
# in $PID and removes $WORK.

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
