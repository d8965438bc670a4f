// Keeping something with a TTL alive (a lease, a session), as the Go
// client's keeper does (client/keeper.go): refresh it every `every`, and
// abort the signal the moment it can no longer be proven alive: a refresh
// was refused for good, or the local deadline passed. The deadline is
// measured on the monotonic clock from a reading taken before the request
// that confirmed it was sent: deadline = sent + ttl - margin. The server
// computes its expiry from a later moment, so the local deadline always
// comes first.

import { now, sleep } from "./core.js";
import {
  Forbidden, InvalidRequest, LockHeld, NotFound, OctoStoreError, SessionExpired, Unauthorized,
} from "./errors.js";

/**
 * The TTL to keep (def when unset) in the whole seconds the server
 * counts, and the safety margin for it: margin, or by default
 * max(ttl/10, min(1, ttl/3)) seconds.
 */
export function keptTTL(ttl: number | undefined, def: number, margin: number | undefined): { ttl: number; margin: number } {
  let t = ttl === undefined || ttl <= 0 ? def : ttl;
  if (!Number.isFinite(t)) throw new InvalidRequest(`TTL must be a number of seconds, not ${String(ttl)}`);
  t = Math.ceil(t);
  const m = margin === undefined || margin <= 0 ? Math.max(t / 10, Math.min(1, t / 3)) : margin;
  if (m >= t) throw new InvalidRequest(`safety margin ${m}s must be shorter than the TTL ${t}s`);
  return { ttl: t, margin: m };
}

/** How often a kept lease or leadership is renewed, in seconds: every when given and positive, else ttl/3. */
export function renewInterval(every: number | undefined, ttl: number): number {
  return every !== undefined && every > 0 ? every : ttl / 3;
}

/** Failures that mean the lease or session is gone for sure. */
export function definitive(e: unknown): boolean {
  return e instanceof NotFound || e instanceof LockHeld || e instanceof SessionExpired ||
    e instanceof Unauthorized || e instanceof Forbidden || e instanceof InvalidRequest;
}

export class Keeper {
  readonly controller = new AbortController();
  /** The monotonic send time (ms) of the last confirmed request. */
  private sent: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly loop: Promise<void>;

  constructor(
    sent: number,
    private readonly ttlMs: number,
    private readonly marginMs: number,
    private readonly everyMs: number,
    private readonly lost: (message: string, cause: unknown) => OctoStoreError,
    private readonly refresh: (signal: AbortSignal) => Promise<unknown>,
  ) {
    this.sent = sent;
    this.arm();
    this.loop = this.run();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The local deadline (monotonic ms): the signal aborts then unless a refresh is confirmed first. */
  get deadline(): number {
    return this.sent + this.ttlMs - this.marginMs;
  }

  /** The earliest the server may consider the thing expired (monotonic ms): last confirmed send + TTL. */
  get expiry(): number {
    return this.sent + this.ttlMs;
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.lose(new Error("no renewal confirmed before the local deadline"));
    }, Math.max(0, this.deadline - now()));
  }

  private async run(): Promise<void> {
    let wait = this.everyMs;
    for (let failures = 0; await sleep(wait, this.signal);) {
      const sent = now();
      const rc = new AbortController();
      const onAbort = () => rc.abort(this.signal.reason);
      this.signal.addEventListener("abort", onAbort, { once: true });
      const t = setTimeout(() => rc.abort(new Error("local deadline")), Math.max(0, this.deadline - sent));
      try {
        await this.refresh(rc.signal);
        this.confirm(sent);
        wait = this.everyMs;
        failures = 0;
      } catch (e) {
        if (this.signal.aborted) return;
        if (definitive(e)) {
          this.lose(e);
          return;
        }
        failures++;
        wait = retryDelay(failures, this.everyMs);
      } finally {
        clearTimeout(t);
        this.signal.removeEventListener("abort", onAbort);
      }
    }
  }

  /** Moves the deadline after a refresh sent at `sent` succeeded. */
  private confirm(sent: number): void {
    if (this.signal.aborted || sent <= this.sent) return;
    this.sent = sent;
    this.arm();
  }

  /** Aborts the signal with the reason it was lost. */
  lose(cause: unknown): void {
    if (this.signal.aborted) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const why = cause instanceof Error ? cause.message : String(cause);
    this.controller.abort(this.lost(why, cause));
  }

  /** Stops refreshing and aborts the signal with reason (unless lost already); waits for the refresher. */
  async halt(reason: unknown): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (!this.signal.aborted) this.controller.abort(reason);
    await this.loop;
  }
}

/** Backs off from 100 ms, never waiting longer than every. */
function retryDelay(failures: number, every: number): number {
  const ceiling = Math.min(every, 100 * 2 ** Math.min(failures - 1, 10));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}
