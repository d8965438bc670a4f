// @octostore/client: the TypeScript client of OctoStore.

export {
  OctoStore, Lease, Leadership, Session,
  type OctoStoreOptions, type CallOptions, type AcquireOptions, type GetOptions, type ListOptions,
  type LeaseOptions, type LockMode, type CampaignOptions, type ElectionStatus, type ObserveOptions, type LeadershipOptions, type SessionOptions, type TokenOptions, type LockStatus, type NamespaceListOptions,
} from "./client.js";
export { EventStream, type EventsOptions, type LockEvent } from "./events.js";
export { DEFAULT_RETRY, type RetryPolicy, type FetchLike } from "./core.js";
export {
  OctoStoreError, Conflict, LockHeld, LimitMismatch, NotFound, Unauthorized, Forbidden, TokenScope, SessionExpired, InvalidRequest,
  RateLimited, Unavailable, OutcomeUnknown, UnexpectedResponse, LeaseLost, LeadershipLost, SessionLost, Released, StreamEnded,
  type ErrorInit,
} from "./errors.js";
export type {
  LockResponse, LockHolder, Election, ElectionVacant, HeldLock, LockNotHeld, ListLocksResponse, ListedLock, CreateSessionResponse, KeepAliveResponse,
  ListElectionsResponse, SessionStatus, CreateWebhookRequest, Webhook, TokenInfo, CreatedToken, ClusterStatus, ReadyStatus, ErrorBody,
  WebhookPayload, NamespaceList, Namespace, paths, components,
} from "./types.js";
