// GET /events: a Server-Sent Events stream of lock events, read with
// fetch's body stream (no EventSource: it cannot send the Authorization
// header) and followed across reconnects, as the Go client's Watch does
// (client/events.go).

import { sleep, type Answer, type Transport } from "./core.js";
import { InvalidRequest, noRetryFixes, OctoStoreError, StreamEnded } from "./errors.js";

/** One event: a lock acquired, renewed, released or expired; or "reset". */
export interface LockEvent {
  /** The event's sequence number (0 on a client-made reset), for resuming. */
  id: number;
  /** acquired, renewed, released, expired, or reset (events after the requested ID are no longer kept: re-read the state). */
  type: "acquired" | "renewed" | "released" | "expired" | "reset" | (string & {});
  /** The lock's name. */
  lock: string;
  holder_id?: string | null;
  fencing_token?: number | null;
  /** RFC 3339 time of the event. */
  timestamp?: string;
  /** Why, on reset. */
  reason?: string;
}

export interface EventsOptions {
  /** Lock names starting with it; empty: every lock. */
  prefix?: string;
  /** Resume after this event ID (as a reconnect with Last-Event-ID); otherwise from now on. */
  lastEventId?: number | string;
  /** Ends the stream. */
  signal?: AbortSignal;
}

/**
 * The event stream as an async iterator that reconnects by itself,
 * resuming after the last event it delivered: every event once and in
 * order while the server still keeps them; otherwise a "reset" event (the
 * stream goes on from now: re-read the state). It ends when `signal`
 * aborts or the loop is left (break/return). It throws what no retry can
 * fix: Unauthorized, Forbidden, InvalidRequest.
 */
export class EventStream implements AsyncIterableIterator<LockEvent> {
  private last: number | undefined;
  private readonly ctrl = new AbortController();
  private readonly gen: AsyncGenerator<LockEvent, undefined, undefined>;

  constructor(private readonly t: Transport, private readonly o: EventsOptions) {
    if (o.lastEventId !== undefined && o.lastEventId !== "") {
      const n = Number(o.lastEventId);
      if (!Number.isSafeInteger(n) || n < 0) throw new InvalidRequest(`lastEventId must be an event ID, not ${String(o.lastEventId)}`);
      this.last = n;
    }
    const user = o.signal;
    if (user) {
      if (user.aborted) this.ctrl.abort(user.reason);
      else user.addEventListener("abort", () => this.ctrl.abort(user.reason), { once: true });
    }
    this.gen = this.follow();
  }

  /** The ID of the last event delivered (or where the stream started), to resume from later. */
  get lastEventId(): number | undefined {
    return this.last;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<LockEvent, undefined>> {
    return this.gen.next();
  }

  /** Ends the stream (called by `break` in a for await loop). */
  async return(): Promise<IteratorResult<LockEvent, undefined>> {
    this.ctrl.abort(new Error("event stream closed"));
    await this.gen.return(undefined);
    return { done: true, value: undefined };
  }

  /** Ends the stream. */
  close(): Promise<IteratorResult<LockEvent, undefined>> {
    return this.return();
  }

  private async *follow(): AsyncGenerator<LockEvent, undefined, undefined> {
    const signal = this.ctrl.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      let failure: unknown;
      try {
        const ans = await this.open(signal);
        attempt = 1;
        yield* this.read(ans.response as Response, signal);
      } catch (e) {
        failure = e;
      }
      if (signal.aborted) return;
      if (noRetryFixes(failure)) throw failure;
      if (failure instanceof StreamEnded) {
        // Too far behind: resuming would be cut off again. Start from now
        // and say what was missed, as the server's reset does.
        this.last = undefined;
        yield { id: 0, type: "reset", lock: "", reason: failure.message };
      }
      if (!(await sleep(this.t.backoff(attempt, failure), signal))) return;
    }
  }

  private async open(signal: AbortSignal): Promise<Answer> {
    const query: Record<string, string | undefined> = { prefix: this.o.prefix || undefined };
    if (this.last !== undefined) query["after"] = String(this.last);
    const ans = await this.t.call({ method: "GET", path: "/events", query, kind: "read", stream: true, signal, headers: { Accept: "text/event-stream" } });
    if (this.last === undefined) {
      // Where "now" was: resuming from here misses nothing, even when the
      // stream breaks before its first event.
      const idx = Number(ans.headers.get("X-OctoStore-Index") ?? "");
      if (Number.isSafeInteger(idx) && idx >= 0) this.last = idx;
    }
    return ans;
  }

  /** Yields the stream's events until it ends (then throws why). */
  private async *read(resp: Response, signal: AbortSignal): AsyncGenerator<LockEvent, undefined, undefined> {
    const body = resp.body;
    if (!body) throw new OctoStoreError("GET /events: no body");
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let fields: Record<string, string> = {};
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) throw new OctoStoreError("GET /events: the stream ended");
        buf += decoder.decode(value, { stream: true });
        for (let nl = buf.search(/\r\n|\r|\n/); nl >= 0; nl = buf.search(/\r\n|\r|\n/)) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
          if (line === "") {
            const frame = fields;
            fields = {};
            if (frame["data"] === undefined) continue; // a heartbeat
            yield this.decode(frame);
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const k = colon < 0 ? line : line.slice(0, colon);
          let v = colon < 0 ? "" : line.slice(colon + 1);
          if (v.startsWith(" ")) v = v.slice(1);
          fields[k] = k === "data" && fields[k] !== undefined ? fields[k] + "\n" + v : v;
        }
      }
    } finally {
      // Cancelling ends the connection (an aborted fetch has ended it already).
      reader.cancel().catch(() => {});
    }
  }

  private decode(f: Record<string, string>): LockEvent {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(f["data"] ?? "") as Record<string, unknown>;
    } catch (e) {
      throw new OctoStoreError(`GET /events: event ${JSON.stringify(f["data"])}: ${String(e)}`);
    }
    const type = f["event"] ?? "message";
    if (type === "error") {
      throw new StreamEnded(`event stream ended by the server: ${String(data["reason"] ?? "")}`);
    }
    const ev = { ...data, type } as unknown as LockEvent;
    const id = Number(f["id"]);
    if (f["id"] !== undefined && Number.isSafeInteger(id)) {
      ev.id = id;
      this.last = id;
    } else {
      ev.id = 0;
    }
    if (typeof ev.lock !== "string") ev.lock = "";
    return ev;
  }
}
