// Package chaos checks OctoStore against faults: a porcupine model of the
// lock API (locks with leases and fencing tokens, and sessions; semaphore
// slots, read/write locks and elections: model_slots.go,
// model_election.go), a TCP
// proxy that partitions and delays Raft traffic between real processes,
// and invariant checks over recorded histories. The harness itself is in
// the package's tests: go test ./internal/chaos -run Chaos.
package chaos
