// Typed errors. Every failure of a call is an OctoStoreError; its class
// says what happened, mapped from the answer's status and `code` the same
// way as the Go client's sentinels (client/errors.go).

/** What the server said, or why no answer came. */
export interface ErrorInit {
  method?: string;
  path?: string;
  status?: number;
  code?: string;
  details?: string;
  requestId?: string;
  retryAfter?: number;
  cause?: unknown;
}

/** The base of every error this client throws. */
export class OctoStoreError extends Error {
  /** The request's method, when the error belongs to a request. */
  readonly method: string | undefined;
  /** The request's path. */
  readonly path: string | undefined;
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  /** The machine-readable code of the server's error (`lock_held`, `no_leader`, …). */
  readonly code: string | undefined;
  /** The server's `details`, when given. */
  readonly details: string | undefined;
  /** The answer's X-Request-Id, for the server's logs. */
  readonly requestId: string | undefined;
  /** Retry-After in seconds, when the server gave one. */
  readonly retryAfter: number | undefined;

  constructor(message: string, init: ErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status ?? 0;
    this.code = init.code;
    this.details = init.details;
    this.requestId = init.requestId;
    this.retryAfter = init.retryAfter;
  }
}

/** 409: the request conflicts with the state (`not_clustered`, …); LockHeld is its `lock_held` case. */
export class Conflict extends OctoStoreError {}

/** 409 `lock_held`: another holder has the lock. */
export class LockHeld extends Conflict {
  /** The lock's name. */
  readonly lockName: string | undefined;
  /** Who holds it (a login). */
  readonly holder: string | undefined;
  /** Until when the holder's lease lasts, unless renewed. */
  readonly expiresAt: Date | undefined;
  constructor(message: string, init: ErrorInit & { lock?: { name?: string; holder?: string; expires_at?: string } }) {
    super(message, init);
    this.lockName = init.lock?.name;
    this.holder = init.lock?.holder;
    this.expiresAt = init.lock?.expires_at ? new Date(init.lock.expires_at) : undefined;
  }
}

/** 409 `limit_mismatch`: a semaphore asked with another limit than its current holders'; `holder` is one of them. */
export class LimitMismatch extends LockHeld {
  /** The limit the current holders asked with (1 for a mutex or a read/write lock). */
  readonly limit: number | undefined;
  constructor(message: string, init: ErrorInit & { lock?: { name?: string; holder?: string; expires_at?: string }; limit?: number }) {
    super(message, init);
    this.limit = init.limit;
  }
}

/** 404: the lock, lease, session, webhook or token does not exist or is not the caller's, or the namespace is not bound (`code` says which: `lock_not_found`, `namespace_not_found`, ...). */
export class NotFound extends OctoStoreError {}
/** 401: the token is missing, wrong, expired or revoked. */
export class Unauthorized extends OctoStoreError {}
/** 403: only an administrator may do this, or the token's scope does not cover it. */
export class Forbidden extends OctoStoreError {}
/** 403 `token_scope`: a scoped token used outside its prefixes or access. */
export class TokenScope extends Forbidden {}
/** 410: the session has ended. */
export class SessionExpired extends OctoStoreError {}
/** 400, 413 or 422: the server refused the request's input (or the client did, before sending). */
export class InvalidRequest extends OctoStoreError {}
/** 429: a rate limit, quota or stream limit; `retryAfter` says when to try again. */
export class RateLimited extends OctoStoreError {}
/** 503, or the server could not be reached (after the retries). */
export class Unavailable extends OctoStoreError {}
/**
 * A write was sent but its answer was lost (503 `outcome_unknown`, a
 * server-side `timeout` of a write, a timeout or broken connection after
 * sending). It may or may not have been applied: read the state to find
 * out. It is also an Unavailable.
 */
export class OutcomeUnknown extends Unavailable {}
/** Any other answer the client does not expect (a 405, a 408, a 5xx other than 503, a bad body). */
export class UnexpectedResponse extends OctoStoreError {}

/** Why a Lease's signal aborted: the lease can no longer be proven held. */
export class LeaseLost extends OctoStoreError {}
/** Why a Leadership's signal aborted: the leadership can no longer be proven held (a LeaseLost). */
export class LeadershipLost extends LeaseLost {}
/** Why a Session's signal aborted: the session can no longer be proven alive. */
export class SessionLost extends OctoStoreError {}
/** Why a Lease's or Session's signal aborted after release() or close(). */
export class Released extends OctoStoreError {}
/** The server ended an event stream with an `error` event (the client fell too far behind). */
export class StreamEnded extends OctoStoreError {}

interface ErrorBody {
  error?: unknown;
  details?: unknown;
  code?: unknown;
  lock?: { name?: string; holder?: string; expires_at?: string };
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** The error an answer other than 2xx stands for. */
export function apiError(method: string, path: string, status: number, headers: Headers, text: string): OctoStoreError {
  let body: ErrorBody = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object") body = parsed as ErrorBody;
  } catch {
    // not JSON: keep the status alone
  }
  const code = str(body.code);
  const ra = headers.get("Retry-After");
  const retryAfter = ra !== null && /^\d+$/.test(ra.trim()) ? Number(ra.trim()) : undefined;
  const init: ErrorInit = {
    method, path, status, code, details: str(body.details),
    requestId: headers.get("X-Request-Id") ?? undefined, retryAfter,
  };
  let msg = `${method} ${path}: ${status} ${str(body.error) ?? "HTTP " + status}`;
  if (init.details) msg += `: ${init.details}`;
  if (status === 409 && body.lock && typeof body.lock === "object") {
    msg += ` (holder ${body.lock.holder ?? "?"} until ${body.lock.expires_at ?? "?"})`;
  }
  if (code) msg += ` [${code}]`;
  if (init.requestId) msg += ` request ${init.requestId}`;
  switch (status) {
    case 400: case 413: case 422: return new InvalidRequest(msg, init);
    case 401: return new Unauthorized(msg, init);
    case 403: return code === "token_scope" ? new TokenScope(msg, init) : new Forbidden(msg, init);
    case 404: return new NotFound(msg, init);
    case 409:
      if (code === "limit_mismatch") {
        const limit = (body as { limit?: unknown }).limit;
        return new LimitMismatch(msg, { ...init, lock: body.lock, ...(typeof limit === "number" ? { limit } : {}) });
      }
      if (code === "lock_held" || (code === undefined && body.lock)) {
        // A campaign's conflict names the leader as a lock's names its holder.
        const leader = (body as { leader?: unknown }).leader;
        const lock = body.lock ?? (leader && typeof leader === "object" ? leader as { name?: string; holder?: string; expires_at?: string } : undefined);
        return new LockHeld(msg, { ...init, ...(lock ? { lock } : {}) });
      }
      return new Conflict(msg, init);
    case 410: return new SessionExpired(msg, init);
    case 429: return new RateLimited(msg, init);
    case 503:
      return unknownOutcome(method, code) ? new OutcomeUnknown(msg, init) : new Unavailable(msg, init);
  }
  return new UnexpectedResponse(msg, init);
}

/** The server says a write may have been applied (a server-side timeout of a write was queued). */
export function unknownOutcome(method: string, code: string | undefined): boolean {
  return code === "outcome_unknown" || (code === "timeout" && method !== "GET");
}

/** An error no retry can fix (Unauthorized, Forbidden, InvalidRequest): a reconnecting stream or an observer ends with it. */
export function noRetryFixes(e: unknown): boolean {
  return e instanceof Unauthorized || e instanceof Forbidden || e instanceof InvalidRequest;
}

/** The server says nothing was applied: any request may be sent again. */
export function notApplied(e: OctoStoreError): boolean {
  return e.status === 503 && (e.code === "no_leader" || e.code === "shutting_down");
}
