// The API's JSON shapes, from the types generated out of api/openapi.yaml
// (src/generated/openapi.ts; `npm run generate` remakes it). Answers are
// returned as the server sends them: snake_case fields, times as RFC 3339
// strings.

import type { components, paths } from "./generated/openapi.js";

type S = components["schemas"];

/** An acquire's or renew's answer: status "acquired" (a new grant) or "held" (already the caller's). */
export type LockResponse = S["LockResponse"];
/** One holder of a semaphore or of a read/write lock held shared (LockResponse's `holders`). */
export type LockHolder = S["LockHolder"];
/** A held lock as GET /locks/{name} shows it (status "held", with `waiters`). */
export type HeldLock = S["LockResponse"];
/** An election's leader: a campaign's or proclaim's answer, or a read's. */
export type Election = S["Election"];
/** GET /elections/{name} of an election nobody leads. */
export type ElectionVacant = S["ElectionVacant"];
/** One page of GET /elections: elections with a leader, in name order (`next_after` when more follow). */
export type ListElectionsResponse = paths["/elections"]["get"]["responses"][200]["content"]["application/json"];
/** GET /locks/{name} of a lock nobody holds. */
export type LockNotHeld = S["LockNotHeld"];
/** One page of GET /locks. */
export type ListLocksResponse = S["ListLocksResponse"];
/** One lock of a list. */
export type ListedLock = S["ListLocksResponse"]["locks"][number];
/** A new session. */
export type CreateSessionResponse = S["CreateSessionResponse"];
/** A session's new expiry after a keepalive. */
export type KeepAliveResponse = S["KeepAliveResponse"];
/** GET /sessions/{id}. */
export type SessionStatus = S["SessionStatusResponse"];
/** A webhook to register. */
export type CreateWebhookRequest = S["CreateWebhookRequest"];
/** A registered webhook (its secret is "****" when one is set). */
export type Webhook = S["WebhookResponse"];
/** A token by its public ID; its value is never shown. */
export type TokenInfo = S["TokenInfo"];
/** A token just created: `token` is its value, shown only this once. */
export type CreatedToken = S["CreatedToken"];
/** One page of GET /namespaces (administrators): bindings in name order, `next_after` when more follow. */
export type NamespaceList = S["NamespaceList"];
/** An owner namespace bound to an account: "github-user:ID", "github-org:ID", "user:NAME" or "group:NAME". */
export type Namespace = S["NamespaceList"]["namespaces"][number];
/** GET /cluster. */
export type ClusterStatus = S["ClusterStatus"];
/** GET /ready of a ready node. */
export type ReadyStatus = S["ReadyStatus"];
/** The JSON of every error answer. */
export type ErrorBody = S["Error"];
/** What an event carries (as a webhook's payload). */
export type WebhookPayload = S["WebhookPayload"];
/** The API's paths, as generated. */
export type { paths, components } from "./generated/openapi.js";
