// The client's own rules, with a scripted fetch (the retry cases of the Go
// client's client/retry_test.go), plus name encoding against the real binary.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import {
  Conflict, Forbidden, InvalidRequest, LockHeld, NotFound, OctoStore, OutcomeUnknown, RateLimited, SessionExpired, TokenScope,
  Unauthorized, Unavailable, UnexpectedResponse, type FetchLike, type LockEvent,
} from "../src/index.js";
import { startServer } from "./harness.js";

type Answer = (req: { url: string; init: RequestInit }) => Response | Promise<Response>;

/** A client whose i-th request gets answers[i] (the last from then on). */
function scripted(...answers: Answer[]): { c: OctoStore; n: () => number; urls: string[]; calls: string[] } {
  let n = 0;
  const urls: string[] = [];
  const calls: string[] = [];
  const fetch: FetchLike = async (url, init) => {
    const a = answers[Math.min(n, answers.length - 1)]!;
    n++;
    urls.push(url);
    calls.push(`${init.method} ${new URL(url).pathname}`);
    return a({ url, init });
  };
  const c = new OctoStore({ url: "http://octostore.test", token: "tok", fetch, retry: { attempts: 4, minDelay: 1, maxDelay: 5 } });
  return { c, n: () => n, urls, calls };
}

function answer(status: number, code = "", body?: unknown, headers: Record<string, string> = {}): Answer {
  return () => {
    const h = new Headers({ "X-Request-Id": "req-1", "Content-Type": "application/json", ...headers });
    if (status === 503 && !h.has("Retry-After")) h.set("Retry-After", "0");
    if (status === 204) return new Response(null, { status, headers: h });
    return new Response(JSON.stringify(body ?? { error: "x", code }), { status, headers: h });
  };
}

function fails(code: string): Answer {
  return () => {
    throw new TypeError("fetch failed", { cause: Object.assign(new Error(code), { code }) });
  };
}

const lock = {
  status: "acquired", name: "a", lease_id: "550e8400-e29b-41d4-a716-446655440000", fencing_token: 7,
  expires_at: "2030-01-01T00:00:00Z", holder: "alice",
};

test("retry: no_leader and shutting_down are repeated for writes", async () => {
  const { c, n } = scripted(answer(503, "no_leader"), answer(503, "shutting_down"), answer(200, "", lock));
  const l = await c.acquire("a", { ttl: 1 });
  assert.equal(l.fencing_token, 7);
  assert.equal(n(), 3);
});

test("retry: outcome_unknown and a server timeout of a write are not repeated", async () => {
  let s = scripted(answer(503, "outcome_unknown"), answer(200, "", lock));
  await assert.rejects(s.c.acquire("a", { ttl: 1 }), (e) => e instanceof OutcomeUnknown && e instanceof Unavailable && e.requestId === "req-1" && e.status === 503);
  assert.equal(s.n(), 1);
  s = scripted(answer(503, "timeout"), answer(200, "", lock));
  await assert.rejects(s.c.renew("a", "x", 1), OutcomeUnknown);
  assert.equal(s.n(), 1);
});

test("retry: reads are repeated on 503 and 429", async () => {
  let s = scripted(answer(503, "timeout"), answer(429, "too_many_streams"), answer(200, "", { status: "available", name: "a" }));
  const st = await s.c.get("a");
  assert.equal(st.held, false);
  assert.equal(s.n(), 3);
  s = scripted(answer(503, "no_leader"));
  await assert.rejects(s.c.get("a"), (e) => e instanceof Unavailable && !(e instanceof OutcomeUnknown));
  assert.equal(s.n(), 4);
});

test("retry: a 429 on a write is not repeated and carries Retry-After", async () => {
  const s = scripted(answer(429, "rate_limited", undefined, { "Retry-After": "3" }), answer(200, "", lock));
  await assert.rejects(s.c.acquire("a", { ttl: 1 }), (e) => e instanceof RateLimited && e.retryAfter === 3 && e.code === "rate_limited");
  assert.equal(s.n(), 1);
});

test("retry: release and session delete are idempotent", async () => {
  let s = scripted(answer(503, "outcome_unknown"), answer(404, "lock_not_found"));
  await s.c.release("a", "x");
  assert.equal(s.n(), 2);
  s = scripted(answer(404, "lock_not_found"));
  await assert.rejects(s.c.release("a", "x"), NotFound);
  assert.equal(s.n(), 1);
  s = scripted(answer(503, "outcome_unknown"), answer(204));
  await s.c.deleteSession("x");
  assert.equal(s.n(), 2);
  s = scripted(fails("ECONNRESET"), answer(404, "lock_not_found"));
  await s.c.release("a", "x");
  assert.equal(s.n(), 2);
});

test("retry: a request that never left is repeated and is Unavailable, not OutcomeUnknown", async () => {
  const s = scripted(fails("ECONNREFUSED"));
  await assert.rejects(s.c.acquire("a", { ttl: 1 }), (e) => e instanceof Unavailable && !(e instanceof OutcomeUnknown));
  assert.equal(s.n(), 4);
  const t = scripted(fails("ECONNREFUSED"), answer(200, "", lock));
  assert.equal((await t.c.acquire("a", { ttl: 1 })).lease_id, lock.lease_id);
});

test("retry: a write whose connection broke after sending is OutcomeUnknown, sent once; a read is repeated", async () => {
  let s = scripted(fails("ECONNRESET"), answer(200, "", lock));
  await assert.rejects(s.c.acquire("a", { ttl: 1 }), OutcomeUnknown);
  assert.equal(s.n(), 1);
  s = scripted(fails("UND_ERR_SOCKET"), answer(200, "", { status: "available", name: "a" }));
  assert.equal((await s.c.get("a")).held, false);
  assert.equal(s.n(), 2);
});

test("retry: a write the caller's signal cut off after sending is OutcomeUnknown", async () => {
  const hang: Answer = ({ init }) => new Promise((_, reject) => {
    init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
  });
  // (AbortSignal.timeout's timer would not keep the test alive.)
  const after = (ms: number) => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(new DOMException("timed out", "TimeoutError")), ms);
    return ac.signal;
  };
  const s = scripted(hang);
  await assert.rejects(s.c.acquire("a", { ttl: 1, signal: after(50) }), OutcomeUnknown);
  assert.equal(s.n(), 1);
  const r = scripted(hang);
  await assert.rejects(r.c.get("a", { signal: after(50) }), (e: Error) => e.name === "TimeoutError");
});

test("errors: status and code map to classes", async () => {
  const cases: [number, string, new (...a: never[]) => Error][] = [
    [400, "malformed_request", InvalidRequest], [413, "payload_too_large", InvalidRequest], [422, "validation_error", InvalidRequest],
    [401, "unauthorized", Unauthorized], [403, "forbidden", Forbidden], [403, "token_scope", TokenScope],
    [404, "lock_not_found", NotFound], [404, "namespace_not_found", NotFound], [410, "session_expired", SessionExpired], [429, "too_many_locks", RateLimited],
    [503, "overloaded", Unavailable], [405, "method_not_allowed", UnexpectedResponse], [409, "not_clustered", Conflict],
  ];
  for (const [status, code, cls] of cases) {
    const s = scripted(answer(status, code));
    await assert.rejects(s.c.renew("a", "x", 1), (e) => e instanceof cls && (e as { code?: string }).code === code, `${status} ${code}`);
  }
  const s = scripted(answer(409, "lock_held", { error: "held", code: "lock_held", lock: { name: "a", holder: "bob", expires_at: "2030-01-01T00:00:00.123456789Z" } }));
  await assert.rejects(s.c.acquire("a", { ttl: 1 }), (e) => e instanceof LockHeld && e.holder === "bob" && e.lockName === "a" &&
    e.expiresAt?.toISOString() === "2030-01-01T00:00:00.123Z" && e.message.includes("holder bob"));
});

test("namespaces: the list's query and the escaped name; a lost release is not repeated", async () => {
  const s = scripted(answer(200, "", { namespaces: [], next_after: null }));
  assert.deepEqual(await s.c.listNamespaces({ after: "acme", limit: 5 }), { namespaces: [], next_after: null });
  await s.c.listNamespaces();
  assert.deepEqual(s.urls, ["http://octostore.test/namespaces?after=acme&limit=5", "http://octostore.test/namespaces"]);
  const r = scripted(fails("ECONNRESET"), answer(204));
  await assert.rejects(r.c.releaseNamespace("a b"), OutcomeUnknown);
  assert.deepEqual(r.calls, ["DELETE /namespaces/a%20b"]);
});

test("elections: the list's query, and listAllElections follows next_after", async () => {
  const e = (name: string) => ({
    status: "leader", name, leader: "alice", lease_id: lock.lease_id, term: 7, value: "", since: "2030-01-01T00:00:00Z",
    expires_at: "2030-01-01T00:00:30Z",
  });
  const s = scripted(
    answer(200, "", { elections: [e("svc/a")], total: 1, next_after: "svc/a" }),
    answer(200, "", { elections: [e("svc/b")], total: 1, next_after: null }),
  );
  const page = await s.c.listElections({ prefix: "svc/", after: "svc/", limit: 1.5, stale: true });
  assert.deepEqual(page, { elections: [e("svc/a")], total: 1, next_after: "svc/a" });
  assert.deepEqual((await s.c.listAllElections("svc/")).map((x) => x.name), ["svc/b"]);
  assert.deepEqual(s.urls, [
    "http://octostore.test/elections?prefix=svc%2F&after=svc%2F&limit=1&stale=true",
    "http://octostore.test/elections?prefix=svc%2F",
  ]);
  const t = scripted(
    answer(200, "", { elections: [e("svc/a")], total: 1, next_after: "svc/a" }),
    answer(200, "", { elections: [e("svc/b")], total: 1 }),
  );
  assert.deepEqual((await t.c.listAllElections("svc/")).map((x) => x.name), ["svc/a", "svc/b"]);
  assert.deepEqual(t.urls, ["http://octostore.test/elections?prefix=svc%2F", "http://octostore.test/elections?prefix=svc%2F&after=svc%2Fa"]);
});

test("names: sent as one path segment, '.' and '..' refused before sending", async () => {
  const s = scripted(answer(200, "", lock));
  await s.c.acquire("jobs/a.b/c_d-e", { ttl: 1 });
  assert.equal(s.urls[0], "http://octostore.test/locks/jobs%2Fa.b%2Fc_d-e/acquire");
  for (const bad of ["", ".", ".."]) await assert.rejects(s.c.acquire(bad, { ttl: 1 }), InvalidRequest);
  assert.equal(s.n(), 1);
  assert.throws(() => new OctoStore({ url: "localhost:3000", token: "t" }), InvalidRequest);
  assert.throws(() => new OctoStore({ url: "ftp://x", token: "t" }), InvalidRequest);
});

test("events: frames, heartbeats, multi-line data; an error event becomes a reset and the stream starts from now", async () => {
  const enc = new TextEncoder();
  const streams = [
    ": heartbeat\n\nid: 5\nevent: acquired\ndata: {\"lock\":\"p/a\",\ndata: \"fencing_token\":3}\n\n" +
      "id: 6\r\nevent: released\r\ndata: {\"lock\":\"p/a\"}\r\n\r\nevent: error\ndata: {\"reason\":\"too far behind\"}\n\n",
    "id: 9\nevent: acquired\ndata: {\"lock\":\"p/b\"}\n\n",
  ];
  const urls: string[] = [];
  const fetch: FetchLike = async (url) => {
    const body = streams[Math.min(urls.length, streams.length - 1)]!;
    urls.push(url);
    return new Response(new ReadableStream({
      start(c) {
        c.enqueue(enc.encode(body));
        c.close();
      },
    }), { status: 200, headers: { "Content-Type": "text/event-stream", "X-OctoStore-Index": "4" } });
  };
  const c = new OctoStore({ url: "http://octostore.test", token: "t", fetch, retry: { attempts: 2, minDelay: 1, maxDelay: 2 } });
  const got: LockEvent[] = [];
  const w = c.events({ prefix: "p/" });
  for await (const e of w) {
    got.push(e);
    if (got.length === 5) break;
  }
  assert.deepEqual(got.map((e) => [e.id, e.type, e.lock]), [[5, "acquired", "p/a"], [6, "released", "p/a"], [0, "reset", ""], [9, "acquired", "p/b"], [9, "acquired", "p/b"]]);
  assert.equal(got[0]!.fencing_token, 3);
  assert.match(got[2]!.reason ?? "", /too far behind/);
  // From now, then from now again after the reset, then after 9.
  assert.deepEqual(urls.slice(0, 3), ["http://octostore.test/events?prefix=p%2F", "http://octostore.test/events?prefix=p%2F", "http://octostore.test/events?prefix=p%2F&after=9"]);
  assert.equal(w.lastEventId, 9);
});

test("names: a name with '/' is read back unchanged by the real server", async () => {
  const s = await startServer();
  const c = s.client("alice");
  const l = await c.acquire("enc/a.b/c_d-e", { ttl: 30 });
  assert.equal(l.name, "enc/a.b/c_d-e");
  const st = await c.get("enc/a.b/c_d-e");
  assert.ok(st.held);
  assert.equal(st.name, "enc/a.b/c_d-e");
  assert.deepEqual((await c.listAll("enc/")).map((x) => x.name), ["enc/a.b/c_d-e"]);
  await c.release("enc/a.b/c_d-e", l.lease_id);
  assert.equal((await c.get("enc/a.b/c_d-e")).held, false);
});

test("hold: an unknown acquire is resolved by a status read, never repeated blindly", async () => {
  const held = (holder: string, session?: string) => answer(200, "", { ...lock, status: "held", holder, lease_id: "11111111-1111-4111-8111-111111111111", ...(session ? { session_id: session } : {}), waiters: 0 });
  const free = answer(200, "", { status: "available", name: "a" });
  const released = answer(200, "", { status: "released" });
  // Free: the acquire was not applied; it is sent again.
  let s = scripted(answer(503, "outcome_unknown"), free, answer(200, "", lock), released);
  const lease = await s.c.hold("a", { ttl: 30 });
  assert.equal(lease.leaseId, lock.lease_id);
  await lease.release();
  assert.deepEqual(s.calls, ["POST /locks/a/acquire", "GET /locks/a", "POST /locks/a/acquire", "POST /locks/a/release"]);

  // Held with no session: a renew of the lease it shows confirms it is ours.
  s = scripted(answer(503, "outcome_unknown"), held("alice"), answer(200, "", { ...lock, lease_id: "11111111-1111-4111-8111-111111111111" }), released);
  const adopted = await s.c.hold("a", { ttl: 30 });
  assert.equal(adopted.leaseId, "11111111-1111-4111-8111-111111111111");
  await adopted.release();
  assert.deepEqual(s.calls, ["POST /locks/a/acquire", "GET /locks/a", "POST /locks/a/renew", "POST /locks/a/release"]);

  // Held by someone else: the renew is refused, and it is LockHeld.
  s = scripted(answer(503, "outcome_unknown"), held("bob"), answer(404, "lock_not_found"));
  await assert.rejects(s.c.hold("a", { ttl: 30 }), (e) => e instanceof LockHeld && e.holder === "bob" && e.cause instanceof OutcomeUnknown);
  assert.deepEqual(s.calls, ["POST /locks/a/acquire", "GET /locks/a", "POST /locks/a/renew"]);

  // Held through another session: LockHeld without a renew.
  s = scripted(answer(503, "outcome_unknown"), held("alice", "22222222-2222-4222-8222-222222222222"));
  await assert.rejects(s.c.hold("a", { ttl: 30 }), LockHeld);
  assert.deepEqual(s.calls, ["POST /locks/a/acquire", "GET /locks/a"]);
});

test("tls: a failed handshake (an untrusted certificate) is Unavailable, sent once, never OutcomeUnknown", async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), "octostore-ts-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")],
  { stdio: "ignore" });
  assert.equal(r.status, 0, "openssl req");
  let connections = 0;
  let requests = 0;
  const srv = https.createServer({ key: readFileSync(path.join(dir, "key.pem")), cert: readFileSync(path.join(dir, "cert.pem")) }, (_req, res) => {
    requests++;
    res.end("{}");
  });
  srv.on("connection", () => connections++);
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => srv.close(() => resolve())));
  const port = (srv.address() as { port: number }).port;
  const c = new OctoStore({ url: `https://127.0.0.1:${port}`, token: "t", retry: { attempts: 4, minDelay: 1, maxDelay: 5 } });
  await assert.rejects(c.acquire("a", { ttl: 1 }), (e) => e instanceof Unavailable && !(e instanceof OutcomeUnknown));
  assert.equal(requests, 0);
  assert.equal(connections, 1, "the handshake was not repeated");
});
