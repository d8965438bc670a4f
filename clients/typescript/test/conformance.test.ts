// The shared client scenarios of clients/conformance.md, one test per ID,
// against the real octostore binary.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  Forbidden, InvalidRequest, LeaseLost, LimitMismatch, LockHeld, NotFound, OctoStore, OctoStoreError, OutcomeUnknown, RateLimited,
  SessionExpired, TokenScope, Unauthorized, Unavailable, type ElectionStatus, type LockEvent, type LockResponse,
} from "../src/index.js";
import { closedPort, DropProxy, poll, Server, startServer, UUID } from "./harness.js";

const ACQUIRE = "/locks/{name}/acquire";
const STATUS = "/locks/{name}";

let shared: Server;
before(async () => {
  shared = new Server();
  await shared.start();
});
after(() => shared.close());

const nap = (ms: number) => new Promise((r) => setTimeout(r, ms));
const near = (iso: string, expectMs: number, tolMs: number, what: string) => {
  const d = Date.parse(iso) - expectMs;
  assert.ok(Math.abs(d) <= tolMs, `${what}: ${iso} is ${d} ms from the expected time`);
};

/**
 * Asserts that a request counter grew by exactly n from was (the server
 * counts an answer just after writing it, so wait for it first).
 */
async function grewBy(s: Server, code: number, method: string, route: string, was: number, n: number): Promise<void> {
  const got = await poll(`${method} ${route} ${code} count`, async () => {
    const c = await s.count(code, method, route);
    return c >= was + n ? c : undefined;
  }, 2000);
  assert.equal(got, was + n, `${method} ${route} answered ${code} ${got - was} times, want ${n}`);
}

/** Asserts that p rejects with an error of class cls (and status/code), and returns it. */
async function rejects<E extends OctoStoreError>(p: Promise<unknown>, cls: new (...a: never[]) => E, status?: number, code?: string): Promise<E> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `want ${cls.name}, got ${String(e)}`);
    if (status !== undefined) assert.equal(e.status, status, String(e));
    if (code !== undefined) assert.equal(e.code, code, String(e));
    return e;
  }
  assert.fail(`want ${cls.name}, got success`);
}

test("C01-acquire-renew-release", async () => {
  const alice = shared.client("alice");
  const t0 = Date.now();
  const r = await alice.acquire("c01/job", { ttl: 30, metadata: "nightly" });
  assert.equal(r.status, "acquired");
  assert.equal(r.name, "c01/job");
  assert.match(r.lease_id, UUID);
  assert.ok(r.fencing_token > 0);
  assert.equal(r.holder, "alice");
  near(r.expires_at, t0 + 30_000, 2000, "expires_at");
  assert.equal(r.metadata, "nightly");

  const again = await alice.acquire("c01/job", { ttl: 30 });
  assert.equal(again.status, "held");
  assert.equal(again.lease_id, r.lease_id);
  assert.equal(again.fencing_token, r.fencing_token);

  const st = await alice.get("c01/job");
  assert.ok(st.held);
  assert.equal(st.status, "held");
  assert.equal(st.holder, "alice");
  assert.equal(st.lease_id, r.lease_id);
  assert.equal(st.fencing_token, r.fencing_token);
  assert.equal(st.waiters, 0);
  assert.equal(st.metadata, "nightly");

  const renewed = await alice.renew("c01/job", r.lease_id, 120);
  assert.ok(Date.parse(renewed.expires_at) >= Date.parse(r.expires_at) + 60_000, renewed.expires_at);

  await alice.release("c01/job", r.lease_id);
  const freed = await alice.get("c01/job");
  assert.equal(freed.held, false);
  assert.equal(freed.status, "available");

  await rejects(alice.renew("c01/job", r.lease_id, 30), NotFound, 404, "lock_not_found");
  await rejects(alice.release("c01/job", r.lease_id), NotFound, 404, "lock_not_found");

  // 7. The lease helper renews in the background.
  await alice.withLock("c01/kept", { ttl: 2 }, async (lease) => {
    const start = performance.now();
    while (performance.now() - start < 3500) {
      const s = await alice.get("c01/kept");
      assert.ok(s.held, "c01/kept must stay held");
      assert.equal(s.lease_id, lease.leaseId);
      lease.check();
      await nap(50);
    }
    assert.equal(lease.lost, undefined);
    lease.check();
  });
  assert.equal((await alice.get("c01/kept")).held, false);

  // 8. Left by an exception: released, and the exception is the caller's.
  const mine = new Error("boom");
  await assert.rejects(alice.withLock("c01/kept", { ttl: 2 }, () => {
    throw mine;
  }), (e) => e === mine);
  assert.equal((await alice.get("c01/kept")).held, false);
});

test("C02-list", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  await alice.acquire("c02/a", { ttl: 60 });
  await alice.acquire("c02/b", { ttl: 60 });
  await bob.acquire("c02/c", { ttl: 60 });
  await alice.acquire("c02x/other", { ttl: 60 });

  const page = await alice.list({ prefix: "c02/", limit: 2 });
  assert.equal(page.total, 2);
  assert.deepEqual(page.locks.map((l) => l.name), ["c02/a", "c02/b"]);
  assert.ok(page.next_after);
  for (const l of page.locks) {
    assert.equal(l.holder, "alice");
    assert.match(l.holder_id ?? "", UUID);
    assert.ok(l.fencing_token > 0);
    assert.ok(l.expires_at);
  }
  const next = await alice.list({ prefix: "c02/", limit: 2, after: page.next_after! });
  assert.deepEqual(next.locks.map((l) => [l.name, l.holder]), [["c02/c", "bob"]]);
  assert.ok(next.next_after === undefined || next.next_after === null);

  const all = await alice.listAll("c02/");
  assert.deepEqual(all.map((l) => l.name), ["c02/a", "c02/b", "c02/c"]);
});

test("C03-conflict-and-errors", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  const errors: OctoStoreError[] = [];
  const r = await alice.acquire("c03/lock", { ttl: 30 });

  const held = await rejects(bob.acquire("c03/lock", { ttl: 30 }), LockHeld, 409, "lock_held");
  assert.equal(held.holder, "alice");
  assert.equal(held.lockName, "c03/lock");
  assert.ok(held.expiresAt);
  assert.ok(Math.abs(held.expiresAt.getTime() - Date.parse(r.expires_at)) <= 1, `${held.expiresAt.toISOString()} vs ${r.expires_at}`);
  errors.push(held);

  const nobody = shared.client({ token: "nobody-conformance-token" });
  const before401 = await shared.count(401, "GET", "/locks");
  errors.push(await rejects(nobody.list(), Unauthorized, 401, "unauthorized"));
  await grewBy(shared, 401, "GET", "/locks", before401, 1);

  errors.push(await rejects(alice.acquire("c03/bad", { ttl: 0 }), InvalidRequest, 422, "validation_error"));
  errors.push(await rejects(alice.keepAlive("00000000-0000-4000-8000-000000000000"), NotFound, 404, "session_not_found"));
  for (const e of errors) assert.ok(e.requestId, `no request ID on ${String(e)}`);
});

test("C04-session-ends-locks", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  const t0 = Date.now();
  const s = await alice.createSession({ ttl: 10 });
  assert.match(s.session_id, UUID);
  near(s.expires_at, t0 + 10_000, 2000, "session expires_at");
  assert.equal(s.keepalive_interval_secs, 5);

  for (const name of ["c04/a", "c04/b"]) {
    const l = await alice.acquire(name, { ttl: 60, sessionId: s.session_id });
    assert.equal(l.status, "acquired");
    assert.equal(l.session_id, s.session_id);
  }
  const st = await alice.getSession(s.session_id);
  assert.equal(st.active, true);
  assert.equal(st.lock_count, 2);

  const ka = await alice.keepAlive(s.session_id);
  assert.ok(Date.parse(ka.expires_at) > Date.parse(s.expires_at), `${ka.expires_at} after ${s.expires_at}`);

  await rejects(bob.acquire("c04/a", { ttl: 10 }), LockHeld, 409, "lock_held");

  await alice.deleteSession(s.session_id);
  assert.equal((await alice.get("c04/a")).held, false);
  assert.equal((await alice.get("c04/b")).held, false);
  assert.equal((await alice.getSession(s.session_id)).active, false);

  await rejects(alice.keepAlive(s.session_id), SessionExpired, 410, "session_expired");
  await alice.deleteSession(s.session_id);

  // 8. The session helper.
  let sessionId = "";
  await alice.withSession({ ttl: 10 }, async (session) => {
    sessionId = session.id;
    const lease = await session.hold("c04/helper", { ttl: 30 });
    const h = await alice.get("c04/helper");
    assert.ok(h.held);
    assert.equal(h.session_id, session.id);
    assert.equal(h.lease_id, lease.leaseId);
  });
  assert.equal((await alice.get("c04/helper")).held, false);
  assert.equal((await alice.getSession(sessionId)).active, false);
});

test("C05-fencing-across-holders", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  const carol = shared.client("carol");
  const a = await alice.acquire("c05/res", { ttl: 30 });
  const t1 = a.fencing_token;
  await alice.release("c05/res", a.lease_id);

  const b = await bob.acquire("c05/res", { ttl: 1 });
  const t2 = b.fencing_token;
  assert.ok(t2 > t1, `${t2} > ${t1}`);

  const c = await carol.acquire("c05/res", { ttl: 30, wait: 10 });
  const grantedAt = Date.now();
  assert.ok(grantedAt >= Date.parse(b.expires_at) + 1000, `granted at ${new Date(grantedAt).toISOString()}, bob's lease ran to ${b.expires_at} (+1 s skew)`);
  assert.equal(c.status, "acquired");
  assert.equal(c.holder, "carol");
  const t3 = c.fencing_token;
  assert.ok(t3 > t2, `${t3} > ${t2}`);

  await rejects(bob.renew("c05/res", b.lease_id, 30), NotFound, 404);
  await rejects(bob.release("c05/res", b.lease_id), NotFound, 404);
  const st = await bob.get("c05/res");
  assert.ok(st.held);
  assert.equal(st.holder, "carol");
  assert.equal(st.fencing_token, t3);

  const other = await alice.acquire("c05/other", { ttl: 30 });
  assert.ok(other.fencing_token > t3, `${other.fencing_token} > ${t3}`);
});

test("C06-wait-fifo", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  const carol = shared.client("carol");
  const a = await alice.acquire("c06/q", { ttl: 60 });

  const waiters = async (n: number) => poll(`waiters ${n}`, async () => {
    const st = await alice.get("c06/q");
    return st.held && st.waiters === n;
  });
  const bobP = bob.acquire("c06/q", { ttl: 60, wait: 30 });
  bobP.catch(() => {});
  await waiters(1);
  const carolP = carol.acquire("c06/q", { ttl: 60, wait: 30 });
  carolP.catch(() => {});
  await waiters(2);

  await alice.release("c06/q", a.lease_id);
  const b = await bobP;
  assert.equal(b.status, "acquired");
  assert.equal(b.holder, "bob");
  assert.ok(b.fencing_token > a.fencing_token);
  const st = await alice.get("c06/q");
  assert.ok(st.held);
  assert.equal(st.holder, "bob");
  assert.equal(st.waiters, 1);

  await bob.release("c06/q", b.lease_id);
  const c = await carolP;
  assert.equal(c.status, "acquired");
  assert.equal(c.holder, "carol");
  assert.ok(c.fencing_token > b.fencing_token);

  // 5. A waiter that runs out.
  await carol.acquire("c06/short", { ttl: 60 });
  const t0 = performance.now();
  const held = await rejects(alice.acquire("c06/short", { ttl: 60, wait: 1 }), LockHeld, 409, "lock_held");
  assert.ok(performance.now() - t0 >= 900, `gave up after ${performance.now() - t0} ms`);
  assert.equal(held.holder, "carol");

  // 6. The lease helper with wait.
  const ch = await carol.acquire("c06/helper", { ttl: 2 });
  await alice.withLock("c06/helper", { ttl: 5, wait: 10 }, (lease) => {
    assert.ok(lease.fencingToken > ch.fencing_token);
    assert.equal(lease.lock.holder, "alice");
    lease.check();
  });
});

test("C07-events-resume-restart", async () => {
  const s = await startServer();
  const firstPort = s.port;
  const alice = s.client("alice");
  // From the index of a status read: nothing is missed however long the
  // stream takes to open.
  const i = (await alice.get("c07/a")).index;
  const w = alice.events({ prefix: "c07/", lastEventId: i });
  const got: LockEvent[] = [];
  const loop = (async () => {
    for await (const e of w) got.push(e);
  })();
  try {
    const a = await alice.acquire("c07/a", { ttl: 60 });
    const first = await poll("acquired c07/a", () => got.find((e) => e.type === "acquired" && e.lock === "c07/a"));
    assert.match(first.holder_id ?? "", UUID);
    assert.equal(first.fencing_token, a.fencing_token);
    assert.ok(first.timestamp && !Number.isNaN(Date.parse(first.timestamp)));
    const n = first.id;
    assert.ok(n > 0);

    await s.stop();
    await s.start(); // another port: the watcher cannot see what happens here
    assert.notEqual(s.port, firstPort);
    const there = s.client("alice");
    await there.release("c07/a", a.lease_id);
    await there.acquire("c07/b", { ttl: 60 });
    await there.acquire("x07/ignored", { ttl: 60 });
    await s.stop();
    await s.start(`127.0.0.1:${firstPort}`);
    await alice.acquire("c07/c", { ttl: 60 });

    const rest = await poll("three more events", () => {
      const r = got.slice(got.indexOf(first) + 1);
      return r.length >= 3 ? r : undefined;
    }, 15_000);
    assert.deepEqual(rest.map((e) => [e.type, e.lock]), [["released", "c07/a"], ["acquired", "c07/b"], ["acquired", "c07/c"]]);
    assert.ok(rest[0]!.id > n);
    for (let i = 1; i < rest.length; i++) assert.ok(rest[i]!.id > rest[i - 1]!.id);
    assert.ok(!got.some((e) => e.type === "reset" || e.lock.startsWith("x07/")), JSON.stringify(got));

    // 7. A stream opened with lastEventId = n gets the same three first.
    const w2 = alice.events({ prefix: "c07/", lastEventId: n });
    const again: LockEvent[] = [];
    for await (const e of w2) {
      again.push(e);
      if (again.length === 3) break;
    }
    assert.deepEqual(again.map((e) => [e.id, e.type, e.lock]), rest.map((e) => [e.id, e.type, e.lock]));
  } finally {
    await w.return();
    await loop;
  }
});

test("C08-lease-lost-refused-renewal", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  await alice.withLock("c08/lock", { ttl: 3 }, async (lease) => {
    assert.equal(lease.lost, undefined);
    await alice.release("c08/lock", lease.leaseId);
    const released = performance.now();
    await poll("lease lost", () => lease.signal.aborted, 2500);
    const lostAt = performance.now();
    assert.ok(lostAt - released <= 2500);
    assert.ok(lostAt < lease.deadline, "lost by the refusal, before the local deadline");
    const lost: unknown = lease.lost;
    assert.ok(lost instanceof LeaseLost);
    assert.ok(lost.cause instanceof NotFound, String(lost.cause));
    assert.throws(() => lease.check(), LeaseLost);
    const b = await bob.acquire("c08/lock", { ttl: 30 });
    assert.equal(b.status, "acquired");
  });
  const st = await alice.get("c08/lock");
  assert.ok(st.held);
  assert.equal(st.holder, "bob");
});

test("C09-lease-lost-deadline", async () => {
  const s = await startServer();
  const alice = s.client("alice");
  const sent = performance.now();
  try {
    await alice.withLock("c09/lock", { ttl: 3 }, async (lease) => {
      const expires = Date.parse(lease.lock.expires_at);
      lease.check();
      s.pause();
      await poll("lease lost", () => lease.signal.aborted, 5000);
      const lostWall = Date.now();
      const lostAfter = performance.now() - sent;
      assert.ok(lostWall < expires, `lost at ${new Date(lostWall).toISOString()}, server expiry ${lease.lock.expires_at}`);
      assert.ok(lostAfter >= 3000 - 1000 - 100, `lost ${lostAfter} ms after the acquire was sent`);
      assert.throws(() => lease.check(), LeaseLost);
      s.resume();
    });
  } finally {
    s.resume();
  }
});

test("C10-unknown-outcome", async () => {
  const proxy = new DropProxy({ host: "127.0.0.1", port: shared.port });
  await proxy.start();
  const direct = shared.client("alice");
  const alice = shared.client("alice", { url: proxy.url });

  // 1. A plain acquire whose answer is lost: OutcomeUnknown, not repeated.
  const before = await shared.count(200, "POST", ACQUIRE);
  proxy.dropNextAnswer();
  await rejects(alice.acquire("c10/lock", { ttl: 30 }), OutcomeUnknown);
  await grewBy(shared, 200, "POST", ACQUIRE, before, 1);
  const st = await direct.get("c10/lock");
  assert.ok(st.held);
  assert.equal(st.holder, "alice");

  // 2. Release is repeated after an unknown outcome; the repeat's 404 means done.
  proxy.dropNextAnswer();
  await alice.release("c10/lock", st.lease_id);
  assert.equal((await direct.get("c10/lock")).held, false);

  // 3. The lease helper resolves the unknown outcome with a status read.
  const acquires = await shared.count(200, "POST", ACQUIRE);
  const reads = await shared.count(200, "GET", STATUS);
  proxy.dropNextAnswer();
  await alice.withLock("c10/helper", { ttl: 30 }, async (lease) => {
    await grewBy(shared, 200, "POST", ACQUIRE, acquires, 1);
    assert.ok((await shared.count(200, "GET", STATUS)) > reads, "a status read resolved it");
    const h = await direct.get("c10/helper");
    assert.ok(h.held);
    assert.equal(lease.leaseId, h.lease_id);
    assert.equal(lease.fencingToken, h.fencing_token);
    lease.check();
  });
  assert.equal((await direct.get("c10/helper")).held, false);

  // 4. A request that never left is not an unknown outcome.
  const nowhere = new OctoStore({ url: `http://127.0.0.1:${await closedPort()}`, token: "alice-conformance-token-01", retry: { attempts: 3, minDelay: 10, maxDelay: 50 } });
  const e = await rejects(nowhere.acquire("c10/lock", { ttl: 30 }), Unavailable);
  assert.ok(!(e instanceof OutcomeUnknown), String(e));
});

test("C11-rate-limit-backoff", async () => {
  const s = await startServer(["--rate-limit", "1", "--rate-burst", "2"]);
  // Spend the burst: reads that are not retried, until one is refused.
  const once = s.client("alice", { retry: { attempts: 1 } });
  let refused = false;
  for (let i = 0; i < 10 && !refused; i++) {
    try {
      await once.get("c11/x");
    } catch (e) {
      assert.ok(e instanceof RateLimited, String(e));
      refused = true;
    }
  }
  assert.ok(refused, "no read refused with 429 in 10");

  const ok0 = await s.count(200, "POST", ACQUIRE);
  const limited0 = await s.count(429, "POST", ACQUIRE);
  const e = await rejects(s.client("alice").acquire("c11/lock", { ttl: 30 }), RateLimited, 429, "rate_limited");
  assert.equal(e.retryAfter, 1);
  await grewBy(s, 429, "POST", ACQUIRE, limited0, 1);
  assert.equal(await s.count(200, "POST", ACQUIRE), ok0);

  const reads429 = await s.count(429, "GET", STATUS);
  const t0 = performance.now();
  const st = await s.client("alice").get("c11/x");
  const took = performance.now() - t0;
  assert.equal(st.status, "available");
  assert.ok(took >= 900, `the read took ${took} ms`);
  assert.ok((await s.count(429, "GET", STATUS)) > reads429);

  const b = await s.client("bob").acquire("c11/lock", { ttl: 30 });
  assert.equal(b.status, "acquired");
});

test("C12-tokens-and-webhooks", async () => {
  const s = await startServer(["--webhook-allow-private"]);
  const alice = s.client("alice");
  const tok = await alice.createToken({ name: "c12-ci", prefixes: ["c12/"], ttl: 3600 });
  assert.ok(tok.token);
  assert.ok(tok.id);
  assert.equal(tok.access, "write");
  assert.deepEqual(tok.prefixes, ["c12/"]);
  assert.ok(tok.expires_at);

  const scoped = s.client({ token: tok.token });
  const ok = await scoped.acquire("c12/ok", { ttl: 30 });
  assert.equal(ok.status, "acquired");
  assert.equal(ok.holder, "alice");
  const scope = await rejects(scoped.acquire("other/x", { ttl: 30 }), Forbidden, 403, "token_scope");
  assert.ok(scope instanceof TokenScope);

  const tokens = await alice.listTokens();
  assert.equal(tokens.find((t) => t.id === tok.id)?.name, "c12-ci");
  const current = tokens.filter((t) => t.current);
  assert.equal(current.length, 1);
  assert.equal(current[0]!.source, "static");

  await alice.revokeToken(tok.id);
  await rejects(scoped.list({ prefix: "c12/" }), Unauthorized, 401);

  const hook = await alice.addWebhook({ url: "https://127.0.0.1:9/hook", events: ["acquired", "released"], lock_pattern: "c12/**" });
  assert.ok(hook.id);
  assert.equal(hook.active, true);
  assert.equal(hook.secret ?? null, null);
  assert.ok((await alice.listWebhooks()).some((h) => h.id === hook.id));
  await alice.deleteWebhook(hook.id);
  assert.ok(!(await alice.listWebhooks()).some((h) => h.id === hook.id));
  await rejects(alice.deleteWebhook(hook.id), NotFound, 404);
});

// Keep the imported type used (the LockResponse shape is what acquire returns).
export type _LockResponse = LockResponse;

test("C13-semaphore-slots", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  let bobs: LockResponse | undefined;
  await alice.withSemaphore("c13/pool", 2, { ttl: 30 }, async (lease) => {
    assert.equal(lease.lock.limit, 2);
    assert.equal(lease.lock.mode, "exclusive");
    const second = await alice.acquire("c13/pool", { ttl: 30, limit: 2 });
    assert.equal(second.status, "acquired");
    assert.notEqual(second.lease_id, lease.leaseId);
    assert.ok(second.fencing_token > lease.fencingToken);
    assert.equal(second.limit, 2);

    const held = await rejects(bob.acquire("c13/pool", { ttl: 30, limit: 2 }), LockHeld, 409, "lock_held");
    assert.ok(!(held instanceof LimitMismatch));
    const mm = await rejects(bob.acquire("c13/pool", { ttl: 30, limit: 3 }), LimitMismatch, 409, "limit_mismatch");
    assert.ok(mm instanceof LockHeld);
    assert.equal(mm.limit, 2);

    const st = await alice.get("c13/pool");
    assert.ok(st.held);
    assert.equal(st.limit, 2);
    assert.equal(st.mode, "exclusive");
    assert.deepEqual((st.holders ?? []).map((h) => h.lease_id), [lease.leaseId, second.lease_id]);

    const bobP = bob.acquire("c13/pool", { ttl: 30, limit: 2, wait: 10 });
    bobP.catch(() => {});
    await poll("bob queued", async () => {
      const s = await alice.get("c13/pool");
      return s.held && s.waiters === 1;
    });
    await alice.release("c13/pool", second.lease_id);
    bobs = await bobP;
    assert.equal(bobs.status, "acquired");
    assert.equal(bobs.holder, "bob");
    assert.ok(bobs.fencing_token > second.fencing_token);
    lease.check();
  });
  const st = await alice.get("c13/pool");
  assert.ok(st.held);
  assert.deepEqual((st.holders ?? []).map((h) => h.lease_id), [bobs?.lease_id]);
});

test("C14-read-write", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  const carol = shared.client("carol");
  let bobToken = 0;
  let writerP: Promise<LockResponse> | undefined;
  await alice.withReadLock("c14/cfg", { ttl: 30 }, (ra) => bob.withReadLock("c14/cfg", { ttl: 30 }, async (rb) => {
    assert.equal(ra.lock.mode, "shared");
    assert.equal(rb.lock.mode, "shared");
    assert.ok(rb.fencingToken > ra.fencingToken);
    bobToken = rb.fencingToken;
    const st = await alice.get("c14/cfg");
    assert.ok(st.held);
    assert.equal(st.mode, "shared");
    assert.deepEqual((st.holders ?? []).map((h) => h.lease_id), [ra.leaseId, rb.leaseId]);

    writerP = carol.acquire("c14/cfg", { ttl: 30, wait: 30 });
    writerP.catch(() => {});
    await poll("writer queued", async () => {
      const s = await alice.get("c14/cfg");
      return s.held && s.waiters === 1;
    });
    await alice.withSession({ ttl: 30 }, async (session) => {
      await rejects(alice.acquire("c14/cfg", { ttl: 30, mode: "shared", sessionId: session.id }), LockHeld, 409);
    });
  }));
  assert.ok(writerP);
  const w = await writerP;
  assert.equal(w.status, "acquired");
  assert.equal(w.holder, "carol");
  assert.ok(w.fencing_token > bobToken);
  const t0 = performance.now();
  await rejects(bob.acquire("c14/cfg", { ttl: 30, mode: "shared", wait: 1 }), LockHeld, 409);
  assert.ok(performance.now() - t0 >= 900, `gave up after ${performance.now() - t0} ms`);
});

test("C15-election", async () => {
  const alice = shared.client("alice");
  const bob = shared.client("bob");
  assert.equal((await alice.getElection("c15/leader")).elected, false);
  const seen: ElectionStatus[] = [];
  const stop = new AbortController();
  const observer = (async () => {
    for await (const st of bob.observeElection("c15/leader", { wait: 5, signal: stop.signal })) seen.push(st);
  })();
  const sees = (elected: boolean, leader = "", value = "") => poll(`observer sees ${leader || "vacant"} ${value}`, async () => {
    const l = seen.at(-1);
    if (!l || l.elected !== elected) return false;
    return !l.elected || (l.leader === leader && l.value === value);
  });
  try {
    await sees(false);
    const a = await alice.campaign("c15/leader", { ttl: 30, value: "a:1" });
    assert.equal(a.status, "leader");
    assert.equal(a.leader, "alice");
    assert.equal(a.value, "a:1");
    assert.match(a.lease_id, UUID);
    assert.ok(a.term > 0);
    await sees(true, "alice", "a:1");
    const again = await alice.campaign("c15/leader", { ttl: 30 });
    assert.equal(again.lease_id, a.lease_id);
    assert.equal(again.term, a.term);
    assert.equal(again.value, "a:1");
    const held = await rejects(bob.campaign("c15/leader", { ttl: 30 }), LockHeld, 409, "lock_held");
    assert.equal(held.holder, "alice");
    assert.equal((await alice.proclaim("c15/leader", a.lease_id, "a:2")).value, "a:2");
    await sees(true, "alice", "a:2");
    await rejects(alice.proclaim("c15/leader", "00000000-0000-4000-8000-000000000000", "x"), NotFound, 404);

    const bobP = bob.campaign("c15/leader", { ttl: 30, value: "b:1", wait: 30 });
    bobP.catch(() => {});
    await poll("bob waiting", async () => {
      const st = await alice.getElection("c15/leader");
      return st.elected && st.waiting === 1;
    });
    await alice.resign("c15/leader", a.lease_id);
    const b = await bobP;
    assert.equal(b.leader, "bob");
    assert.ok(b.term > a.term);
    assert.equal(b.value, "b:1");
    await sees(true, "bob", "b:1");
    await bob.resign("c15/leader", b.lease_id);
    assert.equal((await alice.getElection("c15/leader")).elected, false);
    await sees(false);
  } finally {
    stop.abort();
    await observer;
  }

  // 8. The leadership helper.
  await alice.withLeadership("c15/kept", { ttl: 2, value: "k" }, async (leader) => {
    assert.equal(leader.status.value, "k");
    const t0 = performance.now();
    while (performance.now() - t0 < 3500) {
      const st = await alice.getElection("c15/kept");
      assert.ok(st.elected);
      assert.equal(st.lease_id, leader.leaseId);
      assert.equal(st.term, leader.term);
      assert.equal(st.leader, "alice");
      await nap(50);
    }
    leader.check();
    assert.equal(leader.lost, undefined);
  });
  assert.equal((await alice.getElection("c15/kept")).elected, false);
});
