// The routes the conformance scenarios leave out: system and admin routes,
// blocking and stale reads, token rotation, sessions kept alive and lost,
// namespace bindings, election lists.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { Conflict, Forbidden, LeaseLost, NotFound, SessionLost, Unauthorized } from "../src/index.js";
import { poll, Server, startServer, TOKENS } from "./harness.js";

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

test("namespaces: an administrator pages through the bindings and releases one; others are Forbidden", async () => {
  // In isolated tenancy a static user's first acquire under its own
  // namespace binds it to "user:<login>"; an administrator, never
  // confined, binds nothing.
  const iso = await startServer(["--tenancy", "isolated", "--admin-users", "carol"]);
  const admin = iso.client("carol");
  const alice = iso.client("alice");
  const bob = iso.client("bob");
  await admin.acquire("carol/x", { ttl: 30 });
  assert.deepEqual(await admin.listNamespaces(), { namespaces: [], next_after: null });
  await alice.acquire("alice/x", { ttl: 30 });
  await bob.acquire("bob/x", { ttl: 30 });

  let page = await admin.listNamespaces({ limit: 1 });
  assert.deepEqual(page.namespaces.map((n) => [n.name, n.account]), [["alice", "user:alice"]]);
  assert.equal(page.next_after, "alice");
  assert.ok(!Number.isNaN(Date.parse(page.namespaces[0]!.bound_at)));
  page = await admin.listNamespaces({ after: page.next_after!, limit: 1 });
  assert.deepEqual(page.namespaces.map((n) => [n.name, n.account]), [["bob", "user:bob"]]);
  assert.equal(page.next_after, null);
  assert.deepEqual((await admin.listAllNamespaces()).map((n) => n.name), ["alice", "bob"]);

  const forbidden = (e: unknown): boolean => e instanceof Forbidden && e.status === 403 && e.code === "forbidden";
  await assert.rejects(bob.listNamespaces(), forbidden);
  await assert.rejects(bob.releaseNamespace("alice"), forbidden);

  await admin.releaseNamespace("bob");
  assert.deepEqual((await admin.listAllNamespaces()).map((n) => n.name), ["alice"]);
  assert.ok((await bob.get("bob/x")).held); // the locks under it are not touched
  await assert.rejects(admin.releaseNamespace("bob"), (e) => e instanceof NotFound && e.status === 404 && e.code === "namespace_not_found");
  await bob.acquire("bob/y", { ttl: 30 }); // binds it anew
  assert.deepEqual((await admin.listNamespaces({ after: "alice" })).namespaces.map((n) => n.name), ["bob"]);
});

test("elections: listElections pages through the led elections under a prefix; listAllElections", async () => {
  const alice = s.client("alice");
  const bob = s.client("bob");
  const a = await alice.campaign("el/a", { ttl: 60, value: "a:1" });
  const b = await bob.campaign("el/b", { ttl: 60, value: "b:1" });
  await alice.campaign("elx/other", { ttl: 60 }); // outside the prefix
  await alice.resign("el/vacant", (await alice.campaign("el/vacant", { ttl: 60 })).lease_id); // vacant: not listed

  const page = await alice.listElections({ prefix: "el/" });
  assert.equal(page.total, 2);
  assert.ok(page.next_after === undefined || page.next_after === null);
  assert.deepEqual(page.elections.map((e) => [e.name, e.status, e.leader, e.lease_id, e.term, e.value]), [
    ["el/a", "leader", "alice", a.lease_id, a.term, "a:1"],
    ["el/b", "leader", "bob", b.lease_id, b.term, "b:1"],
  ]);
  for (const e of page.elections) assert.ok(!Number.isNaN(Date.parse(e.since)) && !Number.isNaN(Date.parse(e.expires_at)));

  // One per page: every one exactly once, in name order.
  const names: string[] = [];
  let after: string | undefined;
  for (;;) {
    const p = await bob.listElections({ prefix: "el/", limit: 1, ...(after !== undefined ? { after } : {}) });
    assert.equal(p.total, 1);
    assert.equal(p.elections.length, 1);
    names.push(p.elections[0]!.name);
    if (p.next_after === undefined || p.next_after === null) break;
    after = p.next_after;
  }
  assert.deepEqual(names, ["el/a", "el/b"]);
  assert.deepEqual((await alice.listAllElections("el/")).map((e) => e.name), ["el/a", "el/b"]);
  assert.deepEqual((await bob.listAllElections()).map((e) => e.name), ["el/a", "el/b", "elx/other"]);
  assert.equal((await alice.listElections({ prefix: "el/", stale: true })).total, 2);
});

test("elections: in isolated tenancy another user lists none of alice's elections", async () => {
  const iso = await startServer(["--tenancy", "isolated"]);
  const alice = iso.client("alice");
  const bob = iso.client("bob");
  await alice.campaign("alice/el/a", { ttl: 60 });
  await alice.campaign("alice/el/b", { ttl: 60 });
  await bob.campaign("bob/el/c", { ttl: 60 });
  assert.deepEqual((await alice.listAllElections()).map((e) => e.name), ["alice/el/a", "alice/el/b"]);
  assert.deepEqual((await bob.listElections()).elections.map((e) => e.name), ["bob/el/c"]);
  await assert.rejects(bob.listElections({ prefix: "alice/" }), (e) => e instanceof Forbidden && e.status === 403);
});
