// The client: one typed method per route, and the helpers that hold a
// lock or a session for as long as it can be proven held.

import { lockPath, now, seconds, sleep, Transport, type FetchLike, type RetryPolicy } from "./core.js";
import {
  InvalidRequest, LeadershipLost, LeaseLost, LockHeld, noRetryFixes, NotFound, OutcomeUnknown, Released, SessionLost,
} from "./errors.js";
import { EventStream, type EventsOptions } from "./events.js";
import { Keeper, keptTTL, renewInterval } from "./keeper.js";
import type {
  ClusterStatus, CreatedToken, Election, ElectionVacant, CreateSessionResponse, CreateWebhookRequest, HeldLock, KeepAliveResponse,
  ListElectionsResponse, ListedLock, ListLocksResponse, LockNotHeld, LockResponse, Namespace, NamespaceList, ReadyStatus, SessionStatus,
  TokenInfo, Webhook,
} from "./types.js";

export interface OctoStoreOptions {
  /** The server's base URL, "http://127.0.0.1:3000" (any node of a cluster). */
  url: string;
  /** The bearer token. */
  token: string;
  /** The fetch to send requests with; default the platform's. */
  fetch?: FetchLike;
  /** Replaces the default retry policy (5 attempts, 50 ms doubling to 2 s). */
  retry?: Partial<RetryPolicy>;
  /** The User-Agent header (not set in browsers); default "octostore-client-ts". */
  userAgent?: string;
}

/** Every call takes a signal, which bounds it (waits included). */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface AcquireOptions extends CallOptions {
  /** How long the lease lasts unless renewed, seconds (1 to 3600; rounded up). */
  ttl: number;
  /** Wait up to this long (seconds, at most 300) in the lock's FIFO queue; 0 (default) is a try-lock. */
  wait?: number;
  /** Acquire with this session: the lock is released when the session ends. */
  sessionId?: string;
  /** Free text stored with the lock (≤ 1024 bytes). */
  metadata?: string;
  /** A semaphore of this many slots (2 to 1000; every holder must ask with the same, else LimitMismatch); 1 or absent is a mutex. */
  limit?: number;
  /** "shared" holds a read/write lock as a reader (no limit then); "exclusive" (the default) as the writer. */
  mode?: LockMode;
}

/** An acquire's mode: "exclusive" (a mutex, a semaphore's slot, a writer) or "shared" (a reader). */
export type LockMode = "exclusive" | "shared";

/** GET /locks/{name}: `held` says whether anyone holds it; `index` is X-OctoStore-Index for a blocking read. */
export type LockStatus =
  | (HeldLock & { held: true; index: number })
  | (LockNotHeld & { held: false; index: number });

export interface CampaignOptions extends CallOptions {
  /** The leadership's TTL unless renewed, seconds (1 to 3600; rounded up); default 30. */
  ttl?: number;
  /** Wait up to this long (seconds, at most 300) in FIFO order; 0 (default) fails at once with LockHeld when led. */
  wait?: number;
  /** Tie the leadership to this session: it ends with it. */
  sessionId?: string;
  /** The leader's value (≤ 1024 bytes); a leader's re-campaign without one keeps its value. */
  value?: string;
}

/** GET /elections/{name}: `elected` says whether anyone leads; `index` is X-OctoStore-Index for a blocking read. */
export type ElectionStatus =
  | (Election & { elected: true; index: number })
  | (ElectionVacant & { elected: false; index: number });

export interface LeadershipOptions extends CampaignOptions {
  /** As LeaseOptions.safetyMargin. */
  safetyMargin?: number;
  /** Renewal (re-campaign) interval in seconds; default ttl/3. */
  renewEvery?: number;
}

export interface ObserveOptions extends CallOptions {
  /** Each blocking read waits up to this long (seconds, at most 300); default 60. */
  wait?: number;
}

export interface GetOptions extends CallOptions {
  /** With wait: return as soon as the lock changes after this index. */
  index?: number;
  /** Block up to this many seconds (at most 300). */
  wait?: number;
  /** Answer from the node's own state. */
  stale?: boolean;
}

export interface ListOptions extends CallOptions {
  prefix?: string;
  /** Names sorting after it: the previous page's next_after. */
  after?: string;
  /** At most this many (server default 1000, max 10000). */
  limit?: number;
  stale?: boolean;
}

export interface LeaseOptions extends CallOptions {
  /** The lease's TTL in seconds (whole, 1 to 3600); default 30. */
  ttl?: number;
  /** Wait up to this long (seconds, at most 300) for the lock; 0 fails at once with LockHeld. */
  wait?: number;
  sessionId?: string;
  metadata?: string;
  /** Hold one of this many slots of a semaphore (see AcquireOptions.limit; semaphore() sets it). */
  limit?: number;
  /** "shared" holds a read/write lock as a reader (readLock() sets it). */
  mode?: LockMode;
  /** Seconds before the earliest possible server expiry at which the signal aborts; default max(ttl/10, min(1, ttl/3)). */
  safetyMargin?: number;
  /** Renewal interval in seconds; default ttl/3. */
  renewEvery?: number;
}

export interface SessionOptions extends CallOptions {
  /** 10 to 300 seconds; default 60. */
  ttl?: number;
  /** Keepalive interval in seconds; default the server's keepalive_interval_secs (ttl/2). */
  keepAliveEvery?: number;
  /** As for leases; default max(ttl/10, min(1, ttl/3)). */
  safetyMargin?: number;
}

export interface TokenOptions extends CallOptions {
  /** A label for listing, 1 to 64 bytes. */
  name: string;
  /** The lock-name prefixes it covers (1 to 16): "acme/deploy/". */
  prefixes: string[];
  /** Status, lists and events only; else also acquire/renew/release/sessions. */
  readOnly?: boolean;
  /** Lifetime in seconds; none for a token that never expires. */
  ttl?: number;
}

export interface NamespaceListOptions extends CallOptions {
  /** Namespaces sorting after it: the previous page's next_after. */
  after?: string;
  /** At most this many (server default 1000, max 10000). */
  limit?: number;
}

type Q = Record<string, string | undefined>;

const bool = (b: boolean | undefined): string | undefined => (b ? "true" : undefined);

/** The query of a status read of a lock or election: blocking with wait (until a change after index), stale from the node's own state. */
function waitQuery(o: GetOptions): Q {
  const q: Q = { stale: bool(o.stale) };
  if (o.wait !== undefined && o.wait > 0) {
    q["wait"] = `${seconds(o.wait, "wait")}s`;
    q["index"] = String(o.index ?? 0);
  }
  return q;
}

/** X-OctoStore-Index of an answer (0 when absent or not a number), for a blocking read. */
function indexOf(headers: Headers): number {
  return Number(headers.get("X-OctoStore-Index") ?? "0") || 0;
}

/** The query of a page of locks or elections. */
function listQuery(o: ListOptions): Q {
  return {
    prefix: o.prefix || undefined, after: o.after || undefined,
    limit: o.limit !== undefined && o.limit > 0 ? String(Math.floor(o.limit)) : undefined, stale: bool(o.stale),
  };
}

export class OctoStore {
  /** @internal */
  readonly t: Transport;

  constructor(o: OctoStoreOptions) {
    this.t = new Transport(o.url, o.token, { fetch: o.fetch, retry: o.retry, userAgent: o.userAgent });
  }

  /** The server's base URL. */
  get url(): string {
    return this.t.baseURL;
  }

  /** The bearer token the client sends (the new one after rotateToken). */
  get token(): string {
    return this.t.token;
  }

  // ---- locks

  /**
   * Takes the lock. When someone else holds it, throws LockHeld (with the
   * holder and expiry); with `wait` the request first waits its turn. A
   * lost answer is OutcomeUnknown and is never repeated: the lock may be
   * the caller's (hold() and withLock() find out with a status read).
   */
  async acquire(name: string, o: AcquireOptions): Promise<LockResponse> {
    const body: Record<string, unknown> = { ttl_seconds: seconds(o.ttl, "ttl") };
    if (o.sessionId) body["session_id"] = o.sessionId;
    if (o.metadata !== undefined && o.metadata !== "") body["metadata"] = o.metadata;
    if (o.limit !== undefined) body["limit"] = o.limit;
    if (o.mode !== undefined) {
      if (o.mode !== "exclusive" && o.mode !== "shared") throw new TypeError(`mode must be "exclusive" or "shared", not ${String(o.mode)}`);
      body["mode"] = o.mode;
    }
    const wait = seconds(o.wait ?? 0, "wait");
    if (wait > 0) body["wait_seconds"] = wait;
    const a = await this.t.call({ method: "POST", path: lockPath(name, "acquire"), body, kind: "write", signal: o.signal });
    return a.data as LockResponse;
  }

  /** Extends the lease to ttl seconds from now. A lease that is gone (expired, released, not the caller's) is NotFound. */
  async renew(name: string, leaseId: string, ttl: number, o: CallOptions = {}): Promise<LockResponse> {
    const a = await this.t.call({
      method: "POST", path: lockPath(name, "renew"), kind: "write", signal: o.signal,
      body: { lease_id: leaseId, ttl_seconds: seconds(ttl, "ttl") },
    });
    return a.data as LockResponse;
  }

  /**
   * Frees the lock held with leaseId. It is repeated like a read: releasing
   * a lease twice cannot release anyone else's lock, so after an attempt
   * that may have succeeded, a 404 means the lease is gone, as wanted. A
   * first-attempt 404 is NotFound.
   */
  async release(name: string, leaseId: string, o: CallOptions = {}): Promise<void> {
    await this.t.call({
      method: "POST", path: lockPath(name, "release"), kind: "idempotent", goneIsDone: true, signal: o.signal,
      body: { lease_id: leaseId },
    });
  }

  /**
   * Reads a lock's status (linearizable unless stale). A lock nobody holds
   * is not an error: `held` is false. With `wait` (and `index`) it is a
   * blocking read that returns when the lock changes after index, or after
   * wait seconds.
   */
  async get(name: string, o: GetOptions = {}): Promise<LockStatus> {
    const a = await this.t.call({ method: "GET", path: lockPath(name), query: waitQuery(o), kind: "read", signal: o.signal });
    const d = a.data as HeldLock | LockNotHeld;
    const index = indexOf(a.headers);
    return d.status === "held" ? { ...(d as HeldLock), held: true, index } : { ...(d as LockNotHeld), held: false, index };
  }

  // ---- elections

  /**
   * Asks once to lead election name, waiting up to o.wait seconds in FIFO
   * order. Another leader is LockHeld (`holder` is the leader). The leader
   * campaigning again (same user and session) extends its lease and gets
   * the same lease back: that is how a leader renews.
   */
  async campaign(name: string, o: CampaignOptions = {}): Promise<Election> {
    const body: Record<string, unknown> = { ttl_seconds: seconds(o.ttl ?? 30, "ttl") };
    if (o.sessionId) body["session_id"] = o.sessionId;
    if (o.value !== undefined && o.value !== "") body["value"] = o.value;
    const wait = seconds(o.wait ?? 0, "wait");
    if (wait > 0) body["wait_seconds"] = wait;
    const a = await this.t.call({ method: "POST", path: electionPath(name, "campaign"), body, kind: "write", signal: o.signal });
    return a.data as Election;
  }

  /** Replaces the value of the leader whose lease is leaseId (empty clears it); any other lease is NotFound. */
  async proclaim(name: string, leaseId: string, value: string, o: CallOptions = {}): Promise<Election> {
    const a = await this.t.call({
      method: "POST", path: electionPath(name, "proclaim"), kind: "write", signal: o.signal,
      body: { lease_id: leaseId, value },
    });
    return a.data as Election;
  }

  /** Gives up the leadership held with leaseId: the first campaigner waiting leads at once. Repeated as release is. */
  async resign(name: string, leaseId: string, o: CallOptions = {}): Promise<void> {
    await this.t.call({
      method: "POST", path: electionPath(name, "resign"), kind: "idempotent", goneIsDone: true, signal: o.signal,
      body: { lease_id: leaseId },
    });
  }

  /**
   * Reads an election's leadership; vacant is not an error (`elected`
   * false). With `wait` (and `index`) it is a blocking read that returns
   * when the leadership changes after index, or after wait seconds.
   */
  async getElection(name: string, o: GetOptions = {}): Promise<ElectionStatus> {
    const a = await this.t.call({ method: "GET", path: electionPath(name), query: waitQuery(o), kind: "read", signal: o.signal });
    const d = a.data as Election | ElectionVacant;
    const index = indexOf(a.headers);
    return d.status === "leader" ? { ...(d as Election), elected: true, index } : { ...(d as ElectionVacant), elected: false, index };
  }

  /**
   * One page of the elections that have a leader, in name order, selected
   * as list() selects locks (`prefix`, `after`, `limit`, `stale`);
   * `next_after` is set when more follow. A vacant election is not listed.
   */
  async listElections(o: ListOptions = {}): Promise<ListElectionsResponse> {
    const a = await this.t.call({ method: "GET", path: "/elections", query: listQuery(o), kind: "read", signal: o.signal });
    return a.data as ListElectionsResponse;
  }

  /** Pages through every election with a leader under prefix. */
  async listAllElections(prefix = "", o: CallOptions & { stale?: boolean } = {}): Promise<Election[]> {
    return collect((after) => this.listElections({ ...o, prefix, ...(after !== undefined ? { after } : {}) }), (page) => page.elections);
  }

  /**
   * Yields the election's leadership now, then every change of leader,
   * term or value (a vacancy included), following it with blocking reads
   * (X-OctoStore-Index), until o.signal aborts (then it just ends). A
   * failed read is repeated with backoff; it throws only errors no retry
   * can fix (Unauthorized, Forbidden, InvalidRequest). Changes that come
   * and go between two reads may be missed; the last one never is.
   */
  async *observeElection(name: string, o: ObserveOptions = {}): AsyncGenerator<ElectionStatus, void, undefined> {
    let last: ElectionStatus | undefined;
    let failures = 0;
    for (;;) {
      let st: ElectionStatus;
      try {
        st = await this.getElection(name, {
          ...(last ? { index: last.index, wait: o.wait ?? 60 } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
        });
      } catch (e) {
        if (o.signal?.aborted) return;
        if (noRetryFixes(e)) throw e;
        if (!(await sleep(this.t.backoff(++failures, e), o.signal))) return;
        continue;
      }
      failures = 0;
      const changed = !last || last.elected !== st.elected ||
        (st.elected && last.elected && (last.lease_id !== st.lease_id || last.value !== st.value));
      if (changed) yield st;
      last = st;
    }
  }

  /** One page of the held locks in name order. */
  async list(o: ListOptions = {}): Promise<ListLocksResponse> {
    const a = await this.t.call({ method: "GET", path: "/locks", query: listQuery(o), kind: "read", signal: o.signal });
    return a.data as ListLocksResponse;
  }

  /** Pages through every held lock under prefix. */
  async listAll(prefix = "", o: CallOptions & { stale?: boolean } = {}): Promise<ListedLock[]> {
    return collect((after) => this.list({ ...o, prefix, ...(after !== undefined ? { after } : {}) }), (page) => page.locks);
  }

  // ---- sessions

  /** Starts a session lasting ttl seconds (10 to 300; default the server's 60) unless kept alive. */
  async createSession(o: CallOptions & { ttl?: number } = {}): Promise<CreateSessionResponse> {
    const body: Record<string, number> = {};
    if (o.ttl !== undefined && o.ttl > 0) body["ttl_seconds"] = seconds(o.ttl, "ttl");
    const a = await this.t.call({ method: "POST", path: "/sessions", body, kind: "write", signal: o.signal });
    return a.data as CreateSessionResponse;
  }

  /** Extends the session by its TTL. An ended session is SessionExpired; an unknown one NotFound. */
  async keepAlive(id: string, o: CallOptions = {}): Promise<KeepAliveResponse> {
    const a = await this.t.call({ method: "POST", path: sessionPath(id) + "/keepalive", kind: "write", signal: o.signal });
    return a.data as KeepAliveResponse;
  }

  /** Reads a session's status; an ended one stays readable (active false) for an hour. */
  async getSession(id: string, o: CallOptions & { stale?: boolean } = {}): Promise<SessionStatus> {
    const a = await this.t.call({ method: "GET", path: sessionPath(id), query: { stale: bool(o.stale) }, kind: "read", signal: o.signal });
    return a.data as SessionStatus;
  }

  /** Ends the session and releases its locks. Deleting an ended session is not an error, so it is repeated like a read. */
  async deleteSession(id: string, o: CallOptions = {}): Promise<void> {
    await this.t.call({ method: "DELETE", path: sessionPath(id), kind: "idempotent", signal: o.signal });
  }

  // ---- webhooks

  /** Registers a webhook; a refused URL or filter is InvalidRequest. */
  async addWebhook(w: CreateWebhookRequest, o: CallOptions = {}): Promise<Webhook> {
    const a = await this.t.call({ method: "POST", path: "/webhooks", body: w, kind: "write", signal: o.signal });
    return a.data as Webhook;
  }

  /** The caller's webhooks. */
  async listWebhooks(o: CallOptions = {}): Promise<Webhook[]> {
    const a = await this.t.call({ method: "GET", path: "/webhooks", kind: "read", signal: o.signal });
    return a.data as Webhook[];
  }

  /** Removes one of the caller's webhooks. */
  async deleteWebhook(id: string, o: CallOptions = {}): Promise<void> {
    await this.t.call({ method: "DELETE", path: "/webhooks/" + encodeURIComponent(id), kind: "write", signal: o.signal });
  }

  // ---- tokens

  /**
   * Issues the caller a token limited to prefixes and access; used outside
   * them it gets TokenScope. Not repeated once sent: a repeat would create
   * a second token.
   */
  async createToken(o: TokenOptions): Promise<CreatedToken> {
    const body: Record<string, unknown> = { name: o.name, prefixes: o.prefixes, access: o.readOnly ? "read" : "write" };
    if (o.ttl !== undefined && o.ttl > 0) body["ttl_seconds"] = seconds(o.ttl, "ttl");
    const a = await this.t.call({ method: "POST", path: "/auth/tokens", body, kind: "write", signal: o.signal });
    return a.data as CreatedToken;
  }

  /** The caller's tokens; with all, every user's (administrators only, else Forbidden). */
  async listTokens(o: CallOptions & { all?: boolean } = {}): Promise<TokenInfo[]> {
    const a = await this.t.call({ method: "GET", path: "/auth/tokens", query: { all: bool(o.all) }, kind: "read", signal: o.signal });
    return (a.data as { tokens: TokenInfo[] }).tokens;
  }

  /** Revokes a token by its public ID. */
  async revokeToken(id: string, o: CallOptions = {}): Promise<void> {
    await this.t.call({ method: "DELETE", path: "/auth/tokens/" + encodeURIComponent(id), kind: "write", signal: o.signal });
  }

  /**
   * Replaces the client's token with a new one, which it returns and uses
   * from then on; the old one stops working at once. OutcomeUnknown here
   * means the old token may already be dead.
   */
  async rotateToken(o: CallOptions = {}): Promise<string> {
    const a = await this.t.call({ method: "POST", path: "/auth/token/rotate", kind: "write", signal: o.signal });
    const tok = (a.data as { token: string }).token;
    this.t.token = tok;
    return tok;
  }

  // ---- namespaces (administrators)

  /**
   * One page of the owner namespaces bound to accounts (under --tenancy
   * isolated), in name order: those sorting after `after`, at most
   * `limit`; `next_after` is set when more follow. Administrators only,
   * else Forbidden.
   */
  async listNamespaces(o: NamespaceListOptions = {}): Promise<NamespaceList> {
    const q: Q = {
      after: o.after || undefined,
      limit: o.limit !== undefined && o.limit > 0 ? String(Math.floor(o.limit)) : undefined,
    };
    const a = await this.t.call({ method: "GET", path: "/namespaces", query: q, kind: "read", signal: o.signal });
    return a.data as NamespaceList;
  }

  /** Pages through every bound namespace. */
  async listAllNamespaces(o: CallOptions = {}): Promise<Namespace[]> {
    return collect((after) => this.listNamespaces({ ...o, ...(after !== undefined ? { after } : {}) }), (page) => page.namespaces);
  }

  /**
   * Frees a namespace's binding, so the next account to use it binds it
   * anew (after a GitHub login changed hands); locks under it are not
   * touched. Administrators only, else Forbidden; a namespace that is not
   * bound is NotFound (`namespace_not_found`). Not repeated once sent.
   */
  async releaseNamespace(name: string, o: CallOptions = {}): Promise<void> {
    await this.t.call({ method: "DELETE", path: "/namespaces/" + encodeURIComponent(name), kind: "write", signal: o.signal });
  }

  // ---- system

  /** Resolves when the server answers its liveness check. */
  async health(o: CallOptions = {}): Promise<void> {
    await this.t.call({ method: "GET", path: "/health", kind: "read", signal: o.signal });
  }

  /** GET /ready: resolves when this node can serve linearizable requests now (else Unavailable, code not_ready). */
  async ready(o: CallOptions = {}): Promise<ReadyStatus> {
    const a = await this.t.call({ method: "GET", path: "/ready", kind: "read", signal: o.signal });
    return a.data as ReadyStatus;
  }

  /** The cluster as the answering node sees it. */
  async cluster(o: CallOptions = {}): Promise<ClusterStatus> {
    const a = await this.t.call({ method: "GET", path: "/cluster", kind: "read", signal: o.signal });
    return a.data as ClusterStatus;
  }

  /** Takes a (dead) member out of the cluster; administrators only. A single node without --raft-addr answers Conflict (`not_clustered`). */
  async removeNode(id: string, o: CallOptions = {}): Promise<void> {
    await this.t.call({ method: "DELETE", path: "/cluster/nodes/" + encodeURIComponent(id), kind: "write", signal: o.signal });
  }

  /**
   * A consistent backup of the whole state (administrators only). It holds
   * token hashes and webhook secrets: keep it as private as the tokens.
   */
  async snapshot(o: CallOptions = {}): Promise<Uint8Array> {
    const a = await this.t.call({ method: "GET", path: "/cluster/snapshot", kind: "read", stream: true, signal: o.signal, headers: { Accept: "*/*" } });
    return new Uint8Array(await (a.response as Response).arrayBuffer());
  }

  /** Where a person signs in with GitHub to get a token. */
  signInURL(): string {
    return this.t.baseURL + "/auth/github";
  }

  // ---- events

  /**
   * Follows GET /events under a prefix as an async iterator that
   * reconnects by itself, resuming after the last event it delivered
   * (`lastEventId` resumes an earlier stream). See EventStream.
   */
  events(o: EventsOptions = {}): EventStream {
    return new EventStream(this.t, o);
  }

  // ---- leases and sessions kept alive

  /**
   * Acquires the lock (waiting up to o.wait seconds) and keeps it renewed
   * in the background until release(). Its `signal` aborts the moment the
   * lease can no longer be proven held: a renewal refused, or the local
   * deadline `sent + ttl − safetyMargin` passed without a confirmed one,
   * where `sent` is a monotonic clock reading taken before the acquire (or
   * the last successful renew) was sent, so it always comes before the
   * server's expiry.
   *
   * An acquire whose answer was lost is not repeated blindly: a status read
   * says whether the lock is now the caller's (same session, or none) and a
   * renew of that lease confirms it; when the lock is free (the acquire was
   * not applied) it is acquired again; when another holder has it, LockHeld.
   */
  async hold(name: string, o: LeaseOptions = {}): Promise<Lease> {
    const { ttl, margin } = keptTTL(o.ttl, 30, o.safetyMargin);
    const renewEvery = renewInterval(o.renewEvery, ttl);
    const waitS = o.wait ?? 0;
    let { lock, sent } = await this.acquireResolved(name, { ...o, ttl, wait: waitS });
    if (waitS > 0 && now() - sent > renewEvery * 1000) {
      // A waited acquire may be granted long after it was sent: start the
      // deadline from a fresh reading.
      sent = now();
      try {
        lock = await this.renew(name, lock.lease_id, ttl, o);
      } catch (e) {
        await this.release(name, lock.lease_id).catch(() => {});
        throw e;
      }
    }
    return new Lease(this, lock, sent, ttl, margin, renewEvery);
  }

  /**
   * Holds the lock while fn runs: fn gets the Lease, whose `signal` aborts
   * when the lease is lost or about to be (check it, or pass it on, before
   * every step that needs the lock: `lease.check()`); the lease is renewed
   * in the background and released when fn settles. Returns fn's result or
   * throws fn's error, unchanged. A lease lost while fn ran is not an error
   * here (fn saw it on the signal); a release that fails for another reason
   * than the lease being gone already is, when fn succeeded.
   */
  async withLock<T>(name: string, o: LeaseOptions, fn: (lease: Lease) => Promise<T> | T): Promise<T> {
    return runHeld(await this.hold(name, o), fn, (lease) => lease.release());
  }

  /**
   * withLock on one slot of the semaphore name of `limit` slots (2 to
   * 1000): up to `limit` holders at once, each with its own lease and
   * fencing token; every call is a new slot. Every holder must use the same
   * limit: another is refused with LimitMismatch while the name is held.
   */
  async withSemaphore<T>(name: string, limit: number, o: LeaseOptions, fn: (lease: Lease) => Promise<T> | T): Promise<T> {
    return this.withLock(name, { ...o, limit, mode: "exclusive" }, fn);
  }

  /**
   * withLock on the read/write lock name as a reader: any number of
   * readers together, never with a writer (withWriteLock). Waiting is FIFO
   * across modes, so readers cannot starve a waiting writer. There is no
   * upgrade: a holder asking for the other mode of a name it holds is
   * refused (LockHeld).
   */
  async withReadLock<T>(name: string, o: LeaseOptions, fn: (lease: Lease) => Promise<T> | T): Promise<T> {
    const { limit: _limit, ...rest } = o;
    return this.withLock(name, { ...rest, mode: "shared" }, fn);
  }

  /** withLock on the read/write lock name as the writer (alone: no reader, no other writer). */
  async withWriteLock<T>(name: string, o: LeaseOptions, fn: (lease: Lease) => Promise<T> | T): Promise<T> {
    const { limit: _limit, ...rest } = o;
    return this.withLock(name, { ...rest, mode: "exclusive" }, fn);
  }

  /**
   * Campaigns for election name (waiting up to o.wait seconds) and keeps
   * the leadership renewed in the background, by campaigning again (which
   * extends the same lease), until resign(). Its `signal` aborts (a
   * LeadershipLost) the moment the leadership can no longer be proven
   * held, as a Lease's does.
   */
  async lead(name: string, o: LeadershipOptions = {}): Promise<Leadership> {
    const { ttl, margin } = keptTTL(o.ttl, 30, o.safetyMargin);
    const renewEvery = renewInterval(o.renewEvery, ttl);
    const again: CampaignOptions = { ttl, ...(o.sessionId ? { sessionId: o.sessionId } : {}) };
    let sent = now();
    const st = await this.campaign(name, { ...o, ttl });
    if ((o.wait ?? 0) > 0 && now() - sent > renewEvery * 1000) {
      sent = now();
      try {
        await this.campaign(name, { ...again, ...(o.signal ? { signal: o.signal } : {}) });
      } catch (e) {
        await this.resign(name, st.lease_id).catch(() => {});
        throw e;
      }
    }
    return new Leadership(this, st, again, sent, ttl, margin, renewEvery);
  }

  /** Leads election name while fn runs (see lead), then resigns; fn's result or error, unchanged. */
  async withLeadership<T>(name: string, o: LeadershipOptions, fn: (leader: Leadership) => Promise<T> | T): Promise<T> {
    return runHeld(await this.lead(name, o), fn, (leader) => leader.resign());
  }

  /** Creates a session and keeps it alive until close(). Its `signal` aborts the moment it can no longer be proven alive. */
  async startSession(o: SessionOptions = {}): Promise<Session> {
    const { ttl, margin } = keptTTL(o.ttl, 60, o.safetyMargin);
    const sent = now();
    const g = await this.createSession({ ttl, ...(o.signal ? { signal: o.signal } : {}) });
    let every = o.keepAliveEvery !== undefined && o.keepAliveEvery > 0 ? o.keepAliveEvery : g.keepalive_interval_secs;
    if (!(every > 0) || every >= ttl - margin) every = ttl / 3;
    return new Session(this, g, sent, ttl, margin, every);
  }

  /**
   * Runs fn with a session kept alive, then closes it (which releases its
   * locks). Returns fn's result or throws fn's error, unchanged; its
   * `signal` aborts when the session is lost.
   */
  async withSession<T>(o: SessionOptions, fn: (session: Session) => Promise<T> | T): Promise<T> {
    return runHeld(await this.startSession(o), fn, (session) => session.close());
  }

  /** An acquire that resolves a lost answer with a status read instead of repeating it blindly. */
  private async acquireResolved(name: string, o: AcquireOptions): Promise<{ lock: LockResponse; sent: number }> {
    const started = now();
    const waitLeft = () => Math.max(0, (o.wait ?? 0) - (now() - started) / 1000);
    let unknown: OutcomeUnknown | undefined;
    for (let round = 0; round < 3; round++) {
      const sent = now();
      const wait = round === 0 ? (o.wait ?? 0) : Math.floor(waitLeft());
      try {
        return { lock: await this.acquire(name, { ...o, wait }), sent };
      } catch (e) {
        // The caller's signal ended it: no status read, the caller gave up.
        if (!(e instanceof OutcomeUnknown) || o.signal?.aborted) throw e;
        unknown = e;
      }
      const st = await this.get(name, o.signal ? { signal: o.signal } : {});
      if (st.held) {
        // A semaphore's or shared lock's holders are all listed. A
        // semaphore's slot is only told apart by its session: without one,
        // another slot of the caller's is not this acquire's.
        const semaphore = (o.limit ?? 1) > 1;
        const mine = (st.holders ?? [st]).find(
          (h) => (h.session_id ?? undefined) === (o.sessionId || undefined) && (!semaphore || !!o.sessionId),
        );
        if (mine) {
          // Perhaps ours: a renew of that lease succeeds only for its holder.
          const sent = now();
          try {
            return { lock: await this.renew(name, mine.lease_id, o.ttl, o), sent };
          } catch (e) {
            if (e instanceof OutcomeUnknown) continue;
            if (!(e instanceof NotFound)) throw e;
          }
        }
        if (waitLeft() < 1) {
          throw new LockHeld(`POST ${lockPath(name, "acquire")}: lock held by another holder (found by a status read after an unknown outcome)`, {
            method: "POST", path: lockPath(name, "acquire"), status: 409, code: "lock_held", cause: unknown,
            lock: { name, holder: st.holder, expires_at: st.expires_at },
          });
        }
      }
      // Free (the acquire was not applied, or has ended), or another's with
      // time left to wait: acquiring again cannot take a second lease.
    }
    throw unknown ?? new OutcomeUnknown("acquire: outcome unknown");
  }
}

/** An election's path: the lock-name rules, under /elections. */
function electionPath(name: string, action?: string): string {
  return "/elections/" + lockPath(name, action).slice("/locks/".length);
}

/** Runs fn with thing (a lease or a session), then ends it; fn's outcome wins over the end's. */
async function runHeld<H, T>(thing: H, fn: (thing: H) => Promise<T> | T, end: (thing: H) => Promise<void>): Promise<T> {
  let result: T;
  try {
    result = await fn(thing);
  } catch (e) {
    await end(thing).catch(() => {});
    throw e;
  }
  await end(thing);
  return result;
}

/** Pages through a listing: every page's items, asking for the one after next_after until none follows. */
async function collect<P extends { next_after?: string | null }, T>(
  fetchPage: (after: string | undefined) => Promise<P>, itemsOf: (page: P) => T[],
): Promise<T[]> {
  const all: T[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await fetchPage(after);
    all.push(...itemsOf(page));
    if (page.next_after === undefined || page.next_after === null) return all;
    after = page.next_after;
  }
}

function sessionPath(id: string): string {
  if (id === "" || id === "." || id === "..") throw new InvalidRequest(`session ID ${JSON.stringify(id)} is not valid`);
  return "/sessions/" + encodeURIComponent(id);
}

/**
 * What a Lease and a Session share: a keeper renewing in the background,
 * whose signal aborts when what it keeps is lost (reason L saying why) or
 * given up (a Released).
 */
abstract class Kept<L extends Error> {
  protected abstract readonly k: Keeper;

  protected constructor(private readonly lostAs: abstract new (...args: never[]) => L) {}

  /** Aborts when it is lost (reason an L saying why) or released/closed (a Released). */
  get signal(): AbortSignal {
    return this.k.signal;
  }
  /** Why it was lost, if it was (undefined while kept or after a plain release or close). */
  get lost(): L | undefined {
    const r: unknown = this.k.signal.reason;
    return this.k.signal.aborted && r instanceof this.lostAs ? r : undefined;
  }
  /** Throws why it is no longer kept (an L, or Released after release()/close()); returns while it is. */
  check(): void {
    if (this.k.signal.aborted) throw this.k.signal.reason;
  }
  /** The local deadline, on the monotonic clock (performance.now() ms): when signal aborts unless a renewal is confirmed first. */
  get deadline(): number {
    return this.k.deadline;
  }
  /** The earliest moment the server may consider it expired (last confirmed send + TTL, performance.now() ms). */
  get expiry(): number {
    return this.k.expiry;
  }
}

/** A held lock that renews itself until release(). */
export class Lease extends Kept<LeaseLost> {
  protected readonly k: Keeper;
  private current: LockResponse;

  /** @internal */
  constructor(private readonly c: OctoStore, lock: LockResponse, sent: number, ttl: number, margin: number, renewEvery: number) {
    super(LeaseLost);
    this.current = lock;
    this.k = new Keeper(sent, ttl * 1000, margin * 1000, renewEvery * 1000,
      (msg, cause) => new LeaseLost(`lease of ${lock.name} lost: ${msg}`, { cause }),
      async (signal) => {
        this.current = await c.renew(lock.name, lock.lease_id, ttl, { signal });
      });
  }

  /** The lock's name. */
  get name(): string {
    return this.current.name;
  }
  /** The lease's ID. */
  get leaseId(): string {
    return this.current.lease_id;
  }
  /**
   * The lease's fencing token: send it with every write to the resource
   * the lock protects, which must refuse a token lower than the highest it
   * has seen.
   */
  get fencingToken(): number {
    return this.current.fencing_token;
  }
  /** The last answer of the acquire or a renewal (its expires_at is the server's). */
  get lock(): LockResponse {
    return this.current;
  }

  /** @internal Stops renewing without releasing (the session that holds it ended). */
  abandon(reason: unknown): void {
    void this.k.halt(reason);
  }

  /** Stops renewing, aborts signal and releases the lock. A lease already lost is not an error. */
  async release(o: CallOptions = {}): Promise<void> {
    await this.k.halt(new Released(`lease of ${this.name} released`));
    try {
      await this.c.release(this.current.name, this.current.lease_id, o);
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
    }
  }
}

/** An election's leadership kept by this client (OctoStore.lead) until resign(). */
export class Leadership extends Kept<LeadershipLost> {
  protected readonly k: Keeper;
  private current: Election;

  /** @internal */
  constructor(private readonly c: OctoStore, status: Election, again: CampaignOptions, sent: number, ttl: number, margin: number, every: number) {
    super(LeadershipLost);
    this.current = status;
    this.k = new Keeper(sent, ttl * 1000, margin * 1000, every * 1000,
      (msg, cause) => new LeadershipLost(`leadership of ${status.name} lost: ${msg}`, { cause }),
      async (signal) => {
        const st = await c.campaign(status.name, { ...again, signal });
        if (st.lease_id !== this.current.lease_id) {
          // Our lease lapsed and nobody took over: this campaign began a new
          // term, which is not the leadership held. Give it back.
          await c.resign(status.name, st.lease_id).catch(() => {});
          throw new NotFound(`the leadership of term ${this.current.term} lapsed (term ${st.term} began)`, { code: "lock_not_found" });
        }
        this.current = { ...st, value: this.current.value };
      });
  }

  /** The election's name. */
  get name(): string {
    return this.current.name;
  }
  /** The leader's lease. */
  get leaseId(): string {
    return this.current.lease_id;
  }
  /** The term (the leader's fencing token): send it with every write only the leader may make. */
  get term(): number {
    return this.current.term;
  }
  /** The campaign's answer, with the value last proclaimed. */
  get status(): Election {
    return this.current;
  }

  /** Replaces the leader's value (a lost leadership: NotFound). */
  async proclaim(value: string, o: CallOptions = {}): Promise<Election> {
    this.current = await this.c.proclaim(this.current.name, this.current.lease_id, value, o);
    return this.current;
  }

  /** Stops renewing, aborts signal and resigns. A leadership already lost is not an error. */
  async resign(o: CallOptions = {}): Promise<void> {
    await this.k.halt(new Released(`leadership of ${this.name} resigned`));
    try {
      await this.c.resign(this.current.name, this.current.lease_id, o);
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
    }
  }
}

/** A session kept alive in the background until close(). */
export class Session extends Kept<SessionLost> {
  protected readonly k: Keeper;

  /** @internal */
  constructor(private readonly c: OctoStore, readonly grant: CreateSessionResponse, sent: number, ttl: number, margin: number, every: number) {
    super(SessionLost);
    this.k = new Keeper(sent, ttl * 1000, margin * 1000, every * 1000,
      (msg, cause) => new SessionLost(`session ${grant.session_id} lost: ${msg}`, { cause }),
      (signal) => c.keepAlive(grant.session_id, { signal }));
  }

  /** The session's ID, for AcquireOptions.sessionId. */
  get id(): string {
    return this.grant.session_id;
  }

  /**
   * Acquires a lock with this session, renewed like any Lease; it is also
   * released when the session ends, so the lease's signal aborts when the
   * session's does (LeaseLost when the session was lost, Released when it
   * was closed).
   */
  async hold(name: string, o: LeaseOptions = {}): Promise<Lease> {
    const lease = await this.c.hold(name, { ...o, sessionId: this.id });
    const end = () => {
      const r: unknown = this.k.signal.reason;
      lease.abandon(r instanceof SessionLost ? new LeaseLost(`lease of ${lease.name} lost with its session: ${r.message}`, { cause: r }) : r);
    };
    if (this.k.signal.aborted) end();
    else this.k.signal.addEventListener("abort", end, { once: true });
    lease.signal.addEventListener("abort", () => this.k.signal.removeEventListener("abort", end), { once: true });
    return lease;
  }

  /** Holds a lock with this session while fn runs (see OctoStore.withLock). */
  async withLock<T>(name: string, o: LeaseOptions, fn: (lease: Lease) => Promise<T> | T): Promise<T> {
    return runHeld(await this.hold(name, o), fn, (lease) => lease.release());
  }

  /** Stops the keepalives, aborts signal and deletes the session, which releases its locks. */
  async close(o: CallOptions = {}): Promise<void> {
    await this.k.halt(new Released(`session ${this.id} closed`));
    await this.c.deleteSession(this.id, o);
  }
}
