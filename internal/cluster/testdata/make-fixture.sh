#!/usr/bin/env bash
# Makes testdata/bolt-v1: a data dir written by the last release that kept
# the Raft log in raft.db (raft-boltdb), for the migration tests
# (TestMigration_*). It builds that release from git, runs it on 127.0.0.1,
# writes users, a scoped token, locks (one released and re-acquired, one
# held by a session), a session and a webhook through the HTTP API, stops
# it with SIGTERM and copies its data dir here, with fixture.json saying
# what was written.
#
#   internal/cluster/testdata/make-fixture.sh [REV]
#
# REV defaults to 8a189c1, main just before the WAL. Needs go, git, curl, jq.
set -euo pipefail

rev=${1:-8a189c1}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
out=$here/bolt-v1
tmp=$(mktemp -d)
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/src"
git -C "$repo" archive "$rev" | tar -x -C "$tmp/src"
(cd "$tmp/src" && go build -o "$tmp/octostore" ./cmd/octostore)

token=fixture-token-0123456789abcdef
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port
OCTOSTORE_TOKENS="tester:$token" "$tmp/octostore" serve --listen "127.0.0.1:$port" \
	--data-dir "$tmp/data" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 100); do
	curl -fs "$url/ready" >/dev/null 2>&1 && break
	sleep 0.1
done
curl -fs "$url/ready" >/dev/null

api() { # METHOD PATH [JSON]
	curl -fsS -X "$1" "$url$2" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' ${3:+-d "$3"}
}
a=$(api POST /locks/fixture/a/acquire '{"ttl_seconds":3600}')
b1=$(api POST /locks/fixture/b/acquire '{"ttl_seconds":3600}')
api POST /locks/fixture/b/release "{\"lease_id\":$(jq .lease_id <<<"$b1")}" >/dev/null
b=$(api POST /locks/fixture/b/acquire '{"ttl_seconds":3600}')
sess=$(api POST /sessions '{"ttl_seconds":300}')
sid=$(jq -r .session_id <<<"$sess")
s=$(api POST /locks/fixture/s/acquire "{\"ttl_seconds\":3600,\"session_id\":\"$sid\"}")
hook=$(api POST /webhooks '{"url":"https://hooks.example.com/octostore","secret":"fixture-secret","events":["acquired"]}')
scoped=$(api POST /auth/tokens '{"name":"fixture-ci","prefixes":["fixture/"],"access":"read"}')

kill -TERM "$pid"
wait "$pid" || true
pid=

rm -rf "$out"
mkdir -p "$out"
cp -r "$tmp/data" "$out/data"
jq -n --arg rev "$(git -C "$repo" rev-parse --short "$rev")" --arg token "$token" \
	--argjson a "$a" --argjson b "$b" --argjson s "$s" --argjson sess "$sess" \
	--argjson hook "$hook" --argjson scoped "$scoped" '{
	made_by: "internal/cluster/testdata/make-fixture.sh", release: $rev, user: "tester", token: $token,
	locks: {"fixture/a": $a, "fixture/b": $b, "fixture/s": $s},
	session_id: $sess.session_id, webhook_id: $hook.id,
	scoped_token: {id: $scoped.id, token: $scoped.token}
}' >"$out/fixture.json"
du -sh "$out"
