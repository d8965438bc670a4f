// The request machinery: one place that sends a request, repeats it when
// that is safe, and turns what came back into a typed error. The rules are
// the Go client's (client/client.go, ARCHITECTURE.md "The client and
// `lock hold`"):
//
//   - 503 no_leader / shutting_down: nothing was applied, any request is
//     repeated;
//   - a request that never left (connection refused, name not resolved) is
//     repeated, whatever it is;
//   - reads are repeated on any failure to get an answer, and on 503/429;
//   - release and session DELETE ("idempotent") are repeated even when the
//     outcome is unknown, and a release that may already have succeeded
//     takes 404 as done;
//   - any other write whose answer was lost is never repeated: it throws
//     OutcomeUnknown.
//
// Backoff is exponential with full jitter, at least the server's
// Retry-After (capped at the longest backoff).

import {
  apiError, InvalidRequest, NotFound, notApplied, OctoStoreError, OutcomeUnknown, Unavailable,
  unknownOutcome, UnexpectedResponse,
} from "./errors.js";

/** How the client repeats a request that is safe to repeat. Times in milliseconds. */
export interface RetryPolicy {
  /** Attempts in all, at least 1 (default 5). */
  attempts: number;
  /** The first backoff; each later one doubles (default 50). */
  minDelay: number;
  /** The longest backoff (default 2000). */
  maxDelay: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ attempts: 5, minDelay: 50, maxDelay: 2000 });

/** The fetch function the client calls (the platform's by default). */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** When a request may be repeated. */
export type Kind = "write" | "idempotent" | "read";

export interface Call {
  method: "GET" | "POST" | "DELETE";
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  kind: Kind;
  signal?: AbortSignal | undefined;
  headers?: Record<string, string>;
  /** Keep a 2xx body open and unread (event streams, snapshots). */
  stream?: boolean;
  /**
   * A NotFound after repeating an attempt that may have been applied
   * means the thing is gone, as wanted: the call resolves (with an empty
   * answer) instead of throwing. Only for idempotent calls (release).
   */
  goneIsDone?: boolean;
}

export interface Answer {
  headers: Headers;
  /** The decoded JSON body (undefined when empty or streamed). */
  data: unknown;
  /** The open response, for streamed calls. */
  response?: Response;
}

/** A failure to get an answer. */
class TransportFailure {
  constructor(
    readonly cause: unknown,
    /** The request may have reached the server. */
    readonly sent: boolean,
    /** A TLS handshake failed: nothing reached the server and repeating fails the same way. */
    readonly refused: boolean,
    /** The caller's signal ended the attempt. */
    readonly aborted: boolean,
  ) {}
}

export class Transport {
  readonly baseURL: string;
  token: string;
  readonly retry: RetryPolicy;
  readonly userAgent: string | undefined;
  private readonly fetchFn: FetchLike | undefined;

  constructor(baseURL: string, token: string, opts: { fetch?: FetchLike | undefined; retry?: Partial<RetryPolicy> | undefined; userAgent?: string | undefined }) {
    let u: URL;
    try {
      u = new URL(baseURL);
    } catch {
      throw new InvalidRequest(`base URL ${JSON.stringify(baseURL)}: want http(s)://host[:port]`);
    }
    if ((u.protocol !== "http:" && u.protocol !== "https:") || u.host === "") {
      throw new InvalidRequest(`base URL ${JSON.stringify(baseURL)}: want http(s)://host[:port]`);
    }
    this.baseURL = baseURL.replace(/\/+$/, "");
    this.token = token;
    this.fetchFn = opts.fetch;
    const r = { ...DEFAULT_RETRY, ...(opts.retry ?? {}) };
    this.retry = { attempts: Math.max(1, Math.floor(r.attempts)), minDelay: Math.max(0, r.minDelay), maxDelay: Math.max(0, r.maxDelay) };
    // Browsers set their own User-Agent; elsewhere say who we are.
    this.userAgent = opts.userAgent ?? (typeof (globalThis as { document?: unknown }).document === "undefined" ? "octostore-client-ts" : undefined);
  }

  /** Sends c, repeating it while that is safe, and returns the answer or throws a typed error. */
  async call(c: Call): Promise<Answer> {
    const body = c.body === undefined ? undefined : JSON.stringify(c.body);
    // An attempt that may have been applied was repeated.
    let uncertain = false;
    c.signal?.throwIfAborted();
    for (let attempt = 1; ; attempt++) {
      let failure: OctoStoreError | TransportFailure;
      try {
        return await this.once(c, body);
      } catch (e) {
        if (e instanceof OctoStoreError || e instanceof TransportFailure) failure = e;
        else throw e;
      }
      const verdict = retryable(c, failure);
      if (verdict === "uncertain") uncertain = true;
      const again = verdict !== "no" && attempt < this.retry.attempts && !c.signal?.aborted;
      if (!again || !(await sleep(this.backoff(attempt, failure), c.signal))) {
        const err = classify(c, failure, uncertain);
        if (c.goneIsDone && uncertain && err instanceof NotFound) return { headers: new Headers(), data: undefined };
        throw err;
      }
    }
  }

  /** Exponential with full jitter, at least Retry-After (up to maxDelay). */
  backoff(attempt: number, failure?: unknown): number {
    const ceiling = Math.min(this.retry.maxDelay, this.retry.minDelay * 2 ** Math.min(attempt - 1, 20));
    let d = Math.random() * ceiling;
    if (failure instanceof OctoStoreError && failure.retryAfter !== undefined && failure.retryAfter > 0) {
      d = Math.max(d, Math.min(failure.retryAfter * 1000, this.retry.maxDelay));
    }
    return d;
  }

  private url(c: Call): string {
    let u = this.baseURL + c.path;
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(c.query ?? {})) if (v !== undefined) q.set(k, v);
    const qs = q.toString();
    if (qs) u += "?" + qs;
    return u;
  }

  private async once(c: Call, body: string | undefined): Promise<Answer> {
    const headers: Record<string, string> = { Accept: "application/json", ...(c.headers ?? {}) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.token) headers["Authorization"] = "Bearer " + this.token;
    if (this.userAgent) headers["User-Agent"] = this.userAgent;
    const init: RequestInit = { method: c.method, headers };
    if (body !== undefined) init.body = body;
    if (c.signal) init.signal = c.signal;
    const fetchFn = this.fetchFn ?? globalThis.fetch;
    let resp: Response;
    try {
      resp = await fetchFn(this.url(c), init);
    } catch (e) {
      const aborted = c.signal?.aborted ?? false;
      const codes = errorCodes(e);
      const refused = !aborted && tlsRefused(codes);
      throw new TransportFailure(aborted ? c.signal?.reason : e, !refused && (aborted || !neverSent(e, codes)), refused, aborted);
    }
    if (c.stream && resp.status >= 200 && resp.status < 300) {
      return { headers: resp.headers, data: undefined, response: resp };
    }
    let text: string;
    try {
      text = await resp.text();
    } catch (e) {
      throw new TransportFailure(c.signal?.aborted ? c.signal.reason : e, true, false, c.signal?.aborted ?? false);
    }
    if (resp.status < 200 || resp.status >= 300) {
      throw apiError(c.method, c.path, resp.status, resp.headers, text);
    }
    let data: unknown;
    if (text.trim() !== "" && (resp.headers.get("Content-Type") ?? "").includes("json")) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        throw new UnexpectedResponse(`${c.method} ${c.path}: decode answer: ${String(e)}`, { method: c.method, path: c.path, status: resp.status, cause: e });
      }
    } else if (text.trim() !== "") {
      data = text;
    }
    return { headers: resp.headers, data };
  }
}

/** Whether a failure allows sending c again; "uncertain" when an attempt that may have been applied is repeated. */
function retryable(c: Call, f: OctoStoreError | TransportFailure): "yes" | "no" | "uncertain" {
  if (f instanceof OctoStoreError) {
    if (notApplied(f)) return "yes";
    if (c.kind === "read") return f.status === 503 || f.status === 429 ? "yes" : "no";
    if (c.kind === "idempotent" && f.status === 503 && unknownOutcome(c.method, f.code)) return "uncertain";
    return "no";
  }
  if (f.refused || f.aborted) return "no";
  if (!f.sent || c.kind === "read") return "yes";
  if (c.kind === "idempotent") return "uncertain";
  return "no";
}

/** The error a final failure stands for. */
function classify(c: Call, f: OctoStoreError | TransportFailure, uncertain: boolean): OctoStoreError {
  if (f instanceof OctoStoreError) return f;
  const init = { method: c.method, path: c.path, cause: f.cause };
  const why = f.cause instanceof Error ? describe(f.cause) : String(f.cause);
  if ((f.sent && c.kind !== "read") || uncertain) {
    return new OutcomeUnknown(`${c.method} ${c.path}: outcome unknown: the request may or may not have been applied: ${why}`, init);
  }
  if (f.aborted && f.cause instanceof Error) throw f.cause; // a read the caller gave up on
  return new Unavailable(`${c.method} ${c.path}: server unavailable: ${why}`, init);
}

function describe(e: Error): string {
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
}

const neverSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH",
  "EADDRNOTAVAIL", "UND_ERR_CONNECT_TIMEOUT", "ConnectionRefused"]);

function errorCodes(e: unknown, depth = 0): string[] {
  if (e === null || typeof e !== "object" || depth > 4) return [];
  const out: string[] = [];
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") out.push(code);
  out.push(...errorCodes((e as { cause?: unknown }).cause, depth + 1));
  const errs = (e as { errors?: unknown }).errors;
  if (Array.isArray(errs)) for (const x of errs) out.push(...errorCodes(x, depth + 1));
  return out;
}

/** The connection could not be made, so the server cannot have seen the request (codes: errorCodes(e)). */
function neverSent(e: unknown, codes: string[]): boolean {
  if (codes.length > 0) return codes.every((c) => neverSentCodes.has(c));
  // Deno says so in its messages (of the error or its cause); browsers say
  // nothing, and the request counts as sent.
  return messages(e).some((m) => /tcp connect error|client error \(Connect\)|dns error/i.test(m));
}

function messages(e: unknown, depth = 0): string[] {
  if (!(e instanceof Error) || depth > 4) return [];
  return [e.message, ...messages((e as { cause?: unknown }).cause, depth + 1)];
}

/** A TLS handshake failed (codes: the error's errorCodes): repeating fails the same way, and nothing was sent. */
function tlsRefused(codes: string[]): boolean {
  return codes.some((c) => /CERT|TLS|SSL|SIGNATURE|ERR_SSL/i.test(c) && !neverSentCodes.has(c));
}

/** Waits ms unless signal aborts first; false when it did. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** A lock name as one path segment: `/` is sent as %2F and the server reads the name back unchanged. */
export function lockPath(name: string, action?: string): string {
  if (name === "" || name === "." || name === "..") {
    // URL parsers resolve "." and ".." segments (even escaped) before sending.
    throw new InvalidRequest(`lock name ${JSON.stringify(name)} is not a valid name`);
  }
  return "/locks/" + encodeURIComponent(name) + (action ? "/" + action : "");
}

/** Whole seconds, rounded up, as the server counts them. */
export function seconds(s: number, what: string): number {
  if (!Number.isFinite(s) || s < 0) throw new InvalidRequest(`${what} must be a number of seconds, not ${String(s)}`);
  return Math.ceil(s);
}

/** The monotonic clock, in milliseconds. */
export const now = (): number => globalThis.performance.now();
