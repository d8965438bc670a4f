// The conformance harness (clients/conformance.md, "The harness"): the real
// octostore binary, built once per test run, started per scenario on
// 127.0.0.1 with a temp data dir and static tokens, always stopped.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after } from "node:test";

import { OctoStore, type OctoStoreOptions } from "../src/index.js";

export const TOKENS = {
  alice: "alice-conformance-token-01",
  bob: "bob-conformance-token-002",
  carol: "carol-conformance-token-03",
} as const;
export type User = keyof typeof TOKENS;

/** The repository's root (this file runs from clients/typescript/test-dist/test). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

let built: string | undefined;

/**
 * The octostore binary: $OCTOSTORE_TEST_BIN when run-tests.sh built it for
 * this run, else built here (`go build`); never one found on PATH.
 */
export function binary(): string {
  if (built) return built;
  const given = process.env["OCTOSTORE_TEST_BIN"];
  if (given) {
    if (!existsSync(given)) throw new Error(`OCTOSTORE_TEST_BIN=${given} does not exist`);
    return (built = given);
  }
  const dir = mkdtempSync(path.join(tmpdir(), "octostore-ts-bin-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, "octostore");
  const goBin = existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go";
  const r = spawnSync(goBin, ["build", "-o", out, "./cmd/octostore"], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`go build failed (${r.status ?? r.signal ?? r.error})`);
  return (built = out);
}

/** The environment of a server: ours without any OCTOSTORE_* variable, plus the static tokens. */
function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("OCTOSTORE_")) env[k] = v;
  env["OCTOSTORE_TOKENS"] = Object.entries(TOKENS).map(([u, t]) => `${u}:${t}`).join(",");
  return env;
}

const running = new Set<ChildProcess>();
// A test process that exits (or is interrupted) takes its servers along;
// one that is SIGKILLed leaves that to each server's watchdog.
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    for (const p of running) p.kill("SIGKILL");
    process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
  });
}

export class Server {
  url = "";
  port = 0;
  log: string[] = [];
  private proc: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  readonly dir: string;

  constructor(private readonly flags: string[] = []) {
    this.dir = mkdtempSync(path.join(tmpdir(), "octostore-ts-"));
  }

  get dataDir(): string {
    return path.join(this.dir, "data");
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts the server (on listen, default 127.0.0.1:0) and waits until it serves. */
  async start(listen = "127.0.0.1:0"): Promise<void> {
    const args = ["serve", "--listen", listen, "--data-dir", this.dataDir, "--log-format", "json", ...this.flags];
    const p = spawn(binary(), args, { env: serverEnv(), stdio: ["ignore", "ignore", "pipe"] });
    this.proc = p;
    running.add(p);
    this.exited = new Promise((resolve) => p.once("exit", () => {
      running.delete(p);
      resolve();
    }));
    // If this process dies by SIGKILL, the watchdog kills the server and
    // removes its temp dir.
    const script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; kill -CONT "$2" 2>/dev/null; kill -9 "$2" 2>/dev/null; sleep 0.5; rm -rf "$3"';
    this.watchdog = spawn("sh", ["-c", script, "watchdog", String(process.pid), String(p.pid), this.dir],
      { stdio: "ignore", detached: true });
    this.watchdog.unref();
    const lines = createInterface({ input: p.stderr! });
    const ready = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server not serving after 30 s:\n${this.log.join("\n")}`)), 30_000);
      lines.on("line", (line) => {
        this.log.push(line);
        try {
          const j = JSON.parse(line) as { msg?: string; addr?: string };
          if (j.msg === "octostore serving" && j.addr) {
            clearTimeout(timer);
            resolve(j.addr);
          }
        } catch {
          // not JSON: keep it in the log
        }
      });
      p.once("exit", (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code ?? sig}) before serving:\n${this.log.join("\n")}`));
      });
    });
    this.url = await ready;
    this.port = Number(new URL(this.url).port);
  }

  /** SIGTERM, up to 10 s, then SIGKILL; always waits for the process. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = undefined;
    if (p.exitCode === null && p.signalCode === null) {
      p.kill("SIGCONT");
      p.kill("SIGTERM");
      const t = setTimeout(() => {
        p.kill("SIGCONT");
        p.kill("SIGKILL");
      }, 10_000);
      await this.exited;
      clearTimeout(t);
    }
    if (this.watchdog?.pid) {
      try {
        process.kill(this.watchdog.pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
  }

  /** SIGSTOP: the server stops answering. */
  pause(): void {
    this.proc?.kill("SIGSTOP");
  }

  /** SIGCONT. */
  resume(): void {
    this.proc?.kill("SIGCONT");
  }

  /** Stops the server and removes its temp dir. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** A client of user at this server (or at url), with a shortened retry backoff that still honours Retry-After. */
  client(user: User | { token: string }, o: Partial<OctoStoreOptions> = {}): OctoStore {
    const token = typeof user === "string" ? TOKENS[user] : user.token;
    return new OctoStore({ url: this.url, token, retry: { attempts: 5, minDelay: 10, maxDelay: 2000 }, ...o });
  }

  /** octostore_http_requests_total for (code, method, route), 0 when missing. */
  async count(code: number, method: string, route: string): Promise<number> {
    const text = await (await fetch(this.url + "/metrics")).text();
    for (const line of text.split("\n")) {
      if (!line.startsWith("octostore_http_requests_total{")) continue;
      const labels = line.slice(line.indexOf("{") + 1, line.lastIndexOf("}"));
      const m: Record<string, string> = {};
      for (const [, k, v] of labels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) m[k!] = v!;
      if (m["code"] === String(code) && m["method"] === method && m["route"] === route) {
        return Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
    return 0;
  }
}

/** Starts a server for the rest of the calling test; it is stopped (and its dir removed) when that test ends. Call it inside a test. */
export async function startServer(flags: string[] = []): Promise<Server> {
  const s = new Server(flags);
  after(() => s.close());
  await s.start();
  return s;
}

/** Polls check every 25 ms until it returns a truthy value, or fails after timeoutMs. */
export async function poll<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (performance.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A TCP proxy on 127.0.0.1:0 in front of target; dropNextAnswer() makes it
 * forward the client's bytes but, at the first bytes of the server's
 * answer, discard them and close both connections (once).
 */
export class DropProxy {
  url = "";
  private armed = false;
  private readonly server: net.Server;
  private readonly socks = new Set<net.Socket>();

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const up = net.connect(this.target.port, this.target.host);
      this.socks.add(client).add(up);
      const done = () => {
        client.destroy();
        up.destroy();
        this.socks.delete(client);
        this.socks.delete(up);
      };
      client.on("data", (b) => up.write(b));
      up.on("data", (b) => {
        if (this.armed) {
          this.armed = false;
          done();
          return;
        }
        client.write(b);
      });
      client.on("end", () => up.end());
      up.on("end", () => client.end());
      client.on("error", done);
      up.on("error", done);
      client.on("close", done);
      up.on("close", done);
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const a = this.server.address() as net.AddressInfo;
    this.url = `http://127.0.0.1:${a.port}`;
    after(() => this.close());
  }

  dropNextAnswer(): void {
    this.armed = true;
  }

  close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on (one just freed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
