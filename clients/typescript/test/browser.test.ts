// The built package in a browser: headless chromium (Debian's, as the
// dashboard's test uses; .ci/run installs it) loads dist/index.js as an ES
// module from a page whose origin also forwards the API to a real server,
// and holds a lock, follows events and sees a LockHeld there.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

import { startServer, TOKENS } from "./harness.js";

const chromium = "/usr/bin/chromium";
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist");

const page = (token: string) => `<!doctype html><html><body><pre id="out">pending</pre>
<script type="module">
import { OctoStore, LockHeld } from "/dist/index.js";
const out = document.getElementById("out");
try {
  const alice = new OctoStore({ url: location.origin, token: ${JSON.stringify(token)} });
  const bob = new OctoStore({ url: location.origin, token: ${JSON.stringify(TOKENS.bob)} });
  const start = await alice.get("browser/lock");
  const events = alice.events({ prefix: "browser/", lastEventId: start.index });
  const seen = [];
  const r = await alice.withLock("browser/lock", { ttl: 5 }, async (lease) => {
    lease.check();
    let held = "";
    try { await bob.acquire("browser/lock", { ttl: 5 }); } catch (e) { held = e instanceof LockHeld ? e.holder : String(e); }
    return { token: lease.fencingToken, held };
  });
  for await (const e of events) {
    seen.push(e.type + " " + e.lock);
    if (seen.length === 2) break;
  }
  const after = await alice.get("browser/lock");
  out.textContent = "RESULT " + JSON.stringify({ ...r, seen, after: after.status });
} catch (e) {
  out.textContent = "RESULT " + JSON.stringify({ error: String(e) });
}
</script></body></html>`;

test("browser: the package runs in chromium", async (t) => {
  if (!existsSync(chromium)) {
    if (process.env["OCTOSTORE_SKIP_BROWSER"] === "1") return t.skip("OCTOSTORE_SKIP_BROWSER=1");
    assert.fail(`the browser test needs ${chromium} (Debian: apt-get install -y chromium), or OCTOSTORE_SKIP_BROWSER=1 on a developer machine`);
  }
  const s = await startServer();
  const api = new URL(s.url);
  // One origin: the page, the package, and the API forwarded to the server.
  const web = http.createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "Content-Type": "text/html" }).end(page(TOKENS.alice));
      return;
    }
    const m = /^\/dist\/([\w/.-]+\.js)$/.exec(req.url ?? "");
    if (m && !m[1]!.includes("..")) {
      res.writeHead(200, { "Content-Type": "text/javascript" }).end(readFileSync(path.join(dist, m[1]!)));
      return;
    }
    const up = http.request({ host: api.hostname, port: api.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => {
    web.closeAllConnections();
    web.close(() => resolve());
  }));
  const port = (web.address() as { port: number }).port;
  const profile = mkdtempSync(path.join(tmpdir(), "octostore-ts-chromium-"));
  t.after(() => rmSync(profile, { recursive: true, force: true }));

  const proc = spawn(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", `--user-data-dir=${profile}`,
    "--virtual-time-budget=20000", "--dump-dom", `http://127.0.0.1:${port}/`], { stdio: ["ignore", "pipe", "ignore"] });
  let dom = "";
  proc.stdout.on("data", (b: Buffer) => (dom += b.toString()));
  const killer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  await new Promise((resolve) => proc.once("exit", resolve));
  clearTimeout(killer);

  const line = /RESULT (\{.*\})<\/pre>/.exec(dom);
  assert.ok(line, `no result in the page: ${dom.slice(0, 2000)}`);
  const r = JSON.parse(line[1]!.replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")) as {
    error?: string; token?: number; held?: string; seen?: string[]; after?: string;
  };
  t.diagnostic(JSON.stringify(r));
  assert.equal(r.error, undefined, r.error);
  assert.ok((r.token ?? 0) > 0);
  assert.equal(r.held, "alice");
  assert.deepEqual(r.seen, ["acquired browser/lock", "released browser/lock"]);
  assert.equal(r.after, "available");
});
