// Package cluster runs the state machine on hashicorp/raft: it owns the
// log codec's use, the FSM adapter and its snapshots, the batching
// proposer that turns concurrent requests into few log entries, the
// leader-only expiry loop, linearizable reads, and the node channel: the
// mutual-TLS port on which nodes prove their IDs to each other and carry
// Raft, joins and forwarded client requests.
//
// A single node is a one-voter Raft cluster on an in-memory transport, so
// it needs no port besides the HTTP listener; the same code path serves a
// multi-node cluster.
package cluster
