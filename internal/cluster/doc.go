// Package cluster runs the state machine on hashicorp/raft: it owns the
// log codec's use, the FSM adapter and its snapshots, the batching
// proposer that turns concurrent requests into few log entries (group
// commit), the leader's tasks (the leadership barrier and readiness, the
// expiry loop, dropping orphaned wait queues, OnLeader work such as the
// webhook dispatcher), linearizable and stale reads, grant channels for
// waiting acquires, and Changed, closed after every applied entry. It
// answers a command that would only be refused (a try-lock on a held
// lock, a stale lease) from a linearizable read, without a log write.
//
// The Raft log and stable store are raft-wal in the data dir's wal/
// (checked for damage before opening, a torn tail discarded, an
// interrupted segment rotation completed), migrated crash-safely from a
// raft-boltdb raft.db written by an earlier build.
//
// It also owns membership (joining, removing, each member's HTTP address
// in the replicated state), node identity (a shared cluster key or
// certificates from the operator's CA), the node channel: the mutual-TLS
// port on which nodes prove their IDs to each other and carry Raft, joins
// and forwarded client requests, the private data directory (0700/0600,
// snapshots included), and the measurements internal/metrics reads
// (Observer, RaftStats, Readiness).
//
// A single node is a one-voter Raft cluster on an in-memory transport, so
// it needs no port besides the HTTP listener; the same code path serves a
// multi-node cluster.
//
// Errors a caller must tell apart are package-level sentinels
// (ErrNotLeader, ErrOutcomeUnknown, ErrShutdown, and membership's); the
// HTTP layer maps them in its one error table.
package cluster
