// Package httpapi is OctoStore's HTTP/JSON interface: routing (lock names
// may contain '/', raw or %2F-encoded), bearer authentication, request
// validation, the one table that maps errors to status codes (errors.go),
// and the JSON shapes of the served openapi.yaml.
//
// Around the handlers it does admission control (bodies read before a
// slot is taken, per-client and per-node limits, rate limits, quotas),
// forwards requests a follower cannot serve to the leader over the node
// channel, parks waiting acquires on grant channels, serves blocking
// status reads and the /events stream from the replicated outbox, the
// token, webhook and cluster-membership routes, GitHub sign-in, the
// probes (/health, /ready), /metrics and the dashboard, and drains long
// requests at shutdown.
//
// It changes state only through Store.Apply and reads it only through
// Store.Read, so the same handlers serve a single node and a cluster.
// A client that leaves mid-request is recorded as 499 and logged at
// debug, never counted as a server error.
package httpapi
