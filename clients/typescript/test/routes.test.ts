// The routes the conformance scenarios leave out: system and admin routes,
// blocking and stale reads, token rotation, sessions kept alive and lost.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Conflict, Forbidden, LeaseLost, SessionLost, Unauthorized } from "../src/index.js";
import { poll, Server, TOKENS } from "./harness.js";

const s = new Server(["--admin-users", "alice"]);
before(() => s.start());
after(() => s.close());

test("system: health, ready, cluster; snapshot and all tokens for administrators only", async () => {
  const alice = s.client("alice");
  const bob = s.client("bob");
  await alice.health();
  const r = await alice.ready();
  assert.equal(r.status, "ready");
  assert.equal(r.role, "leader");
  const c = await alice.cluster();
  assert.ok(c.leader);
  assert.equal(c.nodes.length, 1);
  const snap = await alice.snapshot();
  assert.ok(snap.byteLength > 0);
  await assert.rejects(bob.snapshot(), Forbidden);
  await assert.rejects(alice.removeNode("nobody"), (e) => e instanceof Conflict && e.code === "not_clustered");
  const all = await alice.listTokens({ all: true });
  assert.ok(all.some((t) => t.login === "bob"));
  await assert.rejects(bob.listTokens({ all: true }), Forbidden);
  assert.equal(alice.signInURL(), s.url + "/auth/github");
});

test("reads: a blocking read returns when the lock changes; stale reads answer", async () => {
  const alice = s.client("alice");
  const st = await alice.get("routes/blocking");
  assert.equal(st.held, false);
  const t0 = performance.now();
  const changed = alice.get("routes/blocking", { index: st.index, wait: 20 });
  await alice.acquire("routes/blocking", { ttl: 30 });
  const after = await changed;
  assert.ok(after.held);
  assert.ok(after.index > st.index);
  assert.ok(performance.now() - t0 < 10_000);
  assert.ok((await alice.get("routes/blocking", { stale: true })).held);
  assert.equal((await alice.list({ prefix: "routes/", stale: true })).total, 1);
});

test("tokens: rotate replaces the client's token; the old one stops working", async () => {
  const carol = s.client("carol");
  const fresh = await carol.rotateToken();
  assert.notEqual(fresh, TOKENS.carol);
  assert.equal(carol.token, fresh);
  await carol.list();
  await assert.rejects(s.client("carol").list(), Unauthorized);
});

test("sessions: a session's lease ends with it; a session kept alive past its TTL; a lost session aborts", async () => {
  const alice = s.client("alice");
  // Kept alive: a confirmed keepalive moves the local deadline.
  const session = await alice.startSession({ ttl: 10, keepAliveEvery: 0.3 });
  const first = session.deadline;
  await poll("a keepalive confirmed", () => session.deadline > first);
  const lease = await session.hold("routes/session", { ttl: 30 });
  const held = await alice.get("routes/session");
  assert.ok(held.held);
  assert.equal(held.session_id, session.id);

  // Ended behind its back: the next keepalive is refused, the session and its lease are lost.
  await alice.deleteSession(session.id);
  await poll("session lost", () => session.signal.aborted);
  assert.ok(session.lost instanceof SessionLost);
  await poll("lease lost with it", () => lease.signal.aborted);
  assert.ok(lease.lost instanceof LeaseLost);
  assert.throws(() => session.check(), SessionLost);
  await lease.release();
  await session.close();
  assert.equal((await alice.get("routes/session")).held, false);
});
