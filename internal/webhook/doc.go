// Package webhook delivers lock events to registered webhooks: it reads
// the replicated outbox, signs each payload, POSTs it over an SSRF-safe
// transport, retries with backoff and jitter, and commits each webhook's
// delivery cursor through Raft so a restart or a new leader resumes at
// the first unacknowledged event (at least once).
//
// It runs only on the leader (cluster.Node.OnLeader), never inside Apply.
// Every webhook has its own worker, so a slow or dead receiver delays
// only its own events, and never a lock operation.
package webhook
