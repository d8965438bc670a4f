// The built package on every runtime it claims: test/runtimes/smoke.mjs
// (holds a lock past its TTL, sees LockHeld, follows events, tells a
// refused connection from an unknown outcome) under this Node, Bun and
// Deno (pinned in test/runtimes/package.json; run-tests.sh installs them).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { test } from "node:test";

import { closedPort, startServer, TOKENS } from "./harness.js";

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const smoke = path.join(pkg, "test/runtimes/smoke.mjs");
const dist = pathToFileURL(path.join(pkg, "dist/index.js")).href;
const bin = (name: string) => path.join(pkg, "test/runtimes/node_modules/.bin", name);

function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    let out = "";
    p.stdout.on("data", (b: Buffer) => (out += b.toString()));
    p.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const t = setTimeout(() => p.kill("SIGKILL"), 60_000);
    p.once("error", reject);
    p.once("exit", (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}

const runtimes: [string, (args: string[]) => [string, string[]]][] = [
  ["node", (a) => [process.execPath, [smoke, ...a]]],
  ["bun", (a) => [bin("bun"), [smoke, ...a]]],
  ["deno", (a) => [bin("deno"), ["run", "--allow-net", "--allow-read", smoke, ...a]]],
];

for (const [name, command] of runtimes) {
  test(`runtimes: the built package on ${name}`, async (t) => {
    if (name !== "node" && !existsSync(bin(name))) {
      if (process.env["OCTOSTORE_SKIP_RUNTIMES"] === "1") return t.skip("OCTOSTORE_SKIP_RUNTIMES=1");
      assert.fail(`${bin(name)} is missing: run 'npm ci --prefix test/runtimes' in clients/typescript (run-tests.sh does), or set OCTOSTORE_SKIP_RUNTIMES=1`);
    }
    const s = await startServer();
    const [cmd, args] = command([dist, s.url, TOKENS.alice, TOKENS.bob, String(await closedPort())]);
    const r = await run(cmd, args);
    t.diagnostic(r.out.trim().split("\n").slice(-3).join(" | "));
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SMOKE OK acquired,(renewed,)+released/);
  });
}
