// A smoke test of the built package on any runtime with fetch (Node, Deno,
// Bun): smoke.mjs <dist/index.js URL or path> <server URL> <alice token> <bob token> <closed port>.
// Prints "SMOKE OK" or throws. test/runtimes.test.ts runs it.
const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const [dist, url, aliceToken, bobToken, closedPort] = args;
const { OctoStore, LockHeld, Unavailable, OutcomeUnknown } = await import(dist);

const check = (ok, what) => {
  if (!ok) throw new Error("smoke: " + what);
};
const alice = new OctoStore({ url, token: aliceToken, retry: { attempts: 3, minDelay: 10, maxDelay: 100 } });
const bob = new OctoStore({ url, token: bobToken });
const name = "smoke/" + Math.random().toString(36).slice(2);

const start = await alice.get(name);
check(start.held === false, "free at first");
const events = alice.events({ prefix: name, lastEventId: start.index });

const result = await alice.withLock(name, { ttl: 2 }, async (lease) => {
  try {
    await bob.acquire(name, { ttl: 5 });
    check(false, "bob got a held lock");
  } catch (e) {
    check(e instanceof LockHeld && e.holder === "alice", "LockHeld with the holder: " + e);
  }
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    lease.check(); // renewed in the background past its 2 s TTL
    await new Promise((r) => setTimeout(r, 100));
  }
  return lease.fencingToken;
});
check(result > 0, "a fencing token");
check((await alice.get(name)).held === false, "released");

const seen = [];
for await (const e of events) {
  seen.push(e.type);
  if (e.type === "released") break;
}
check(seen[0] === "acquired" && seen.includes("renewed") && seen.at(-1) === "released", "events " + seen.join(","));

const nowhere = new OctoStore({ url: "http://127.0.0.1:" + closedPort, token: aliceToken, retry: { attempts: 2, minDelay: 1, maxDelay: 5 } });
try {
  await nowhere.acquire(name, { ttl: 5 });
  check(false, "acquire at a closed port succeeded");
} catch (e) {
  check(e instanceof Unavailable, "Unavailable at a closed port: " + e);
  check(!(e instanceof OutcomeUnknown), "a refused connection is not an unknown outcome: " + e);
}
console.log("SMOKE OK " + seen.join(","));
