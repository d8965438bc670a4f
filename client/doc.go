// Package client is the Go client of OctoStore, a distributed lock service.
//
// A Client has one typed method per route of the HTTP API: Acquire (with an
// optional FIFO wait), Renew, Release, Get (also as a blocking read), List,
// the session calls, the election calls (Campaign, Proclaim, Resign,
// GetElection, ListElections), webhooks, tokens, Health, Cluster,
// RemoveNode, Snapshot and Events (the Server-Sent Events stream). Every call takes a
// context.Context. (The GitHub sign-in routes are for browsers: SignInURL
// says where to go.)
//
// # Errors
//
// A refusal from the server is an *APIError carrying the status, the
// machine-readable code, the message, the request ID and Retry-After. It
// matches the package's sentinels with errors.Is: ErrLockHeld (with the
// holder and expiry in APIError.Conflict), ErrLimitMismatch (a semaphore
// asked with another limit than its holders', named in APIError.Limit),
// ErrNotFound, ErrUnauthorized,
// ErrForbidden, ErrSessionExpired, ErrInvalid, ErrRateLimited,
// ErrUnavailable and ErrOutcomeUnknown.
//
// # Retries
//
// The client retries, with exponential backoff and full jitter, only what
// is safe to repeat: reads; any request that was never sent (the
// connection was refused); and any request the server says it did not
// apply (503 no_leader or shutting_down). A write whose outcome is unknown
// (503 outcome_unknown, a timeout or a broken connection after the request
// was sent) is never repeated blindly: it is returned as an error that
// matches ErrOutcomeUnknown. The exceptions are Release and DeleteSession,
// which the server makes idempotent: releasing a lease that is already gone
// changes nothing, and deleting an ended session answers 204; they are
// retried, and a Release whose earlier attempt may have succeeded treats a
// 404 as done.
//
// # Leases and sessions
//
// Lease (from Client.Hold) acquires a lock and renews it in the background.
// Its Context is cancelled the moment the lease can no longer be proven:
// a renewal was refused, or the local deadline passed. The deadline is
// measured on the monotonic clock from the moment before the acquire or
// renew request was sent, minus a safety margin, so it always falls before
// the server's expiry. Session (from Client.StartSession) does the same for
// a session with keepalives.
//
// # Semaphores, read/write locks and elections
//
// Semaphore(name, limit).Hold holds one slot of a counting semaphore, and
// RWLock(name).HoldShared or .Hold a read/write lock as a reader or the
// writer: each is a Lease like Hold's (LeaseOptions.Limit and Mode say
// the same to Hold), renewed and released by its own lease. Election(name)
// campaigns for an election's leadership: Campaign returns a Leadership
// kept alive like a Lease (its Context ends before the leadership could
// lapse, with a cause matching ErrLeadershipLost), with Proclaim and
// Resign; Leader reads the election and Observe follows its changes.
//
// # TLS
//
// An https:// base URL is verified against the system's roots. For a
// server with a private CA, or one that requires client certificates,
// build the configuration from PEM files with LoadTLS and pass it with
// WithTLS:
//
//	tc, err := client.LoadTLS(client.TLSFiles{CAFile: "ca.pem", CertFile: "me.pem", KeyFile: "me-key.pem"})
//	c, err := client.New("https://locks.example.com", token, client.WithTLS(tc))
//
// A failed handshake (an untrusted certificate, a refused client
// certificate, a server that does not speak TLS) is not retried: no
// request got through, and the same refusal would follow. It matches
// ErrUnavailable, never ErrOutcomeUnknown.
//
// See ExampleLease_fencedWrite for how to use fencing tokens with the
// resource the lock protects.
package client
