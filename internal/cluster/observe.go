package cluster

import (
	"time"

	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

// Observer receives the node's measurements (internal/metrics implements
// it). Calls are cheap and never block.
type Observer interface {
	// LogStored times one write of entries to the Raft log, fsync
	// included.
	LogStored(entries int, d time.Duration)
	// Applied times one group of entries applied to the state machine and
	// tallies the lock events they produced.
	Applied(entries int, d time.Duration, events EventTally)
	// SnapshotPersisted times one snapshot written to disk.
	SnapshotPersisted(bytes int64, d time.Duration)
	// Refused counts one command answered from the state without a log
	// write (a refusal; see Node.refuse).
	Refused()
}

// EventTally counts lock events by kind.
type EventTally struct{ Acquired, Renewed, Released, Expired int }

func (t *EventTally) add(k state.EventKind) {
	switch k {
	case state.EventAcquired:
		t.Acquired++
	case state.EventRenewed:
		t.Renewed++
	case state.EventReleased:
		t.Released++
	case state.EventExpired:
		t.Expired++
	}
}

// nopObserver is the observer of a node nobody measures.
type nopObserver struct{}

func (nopObserver) LogStored(int, time.Duration)           {}
func (nopObserver) Applied(int, time.Duration, EventTally) {}
func (nopObserver) SnapshotPersisted(int64, time.Duration) {}
func (nopObserver) Refused()                               {}

// timedLogStore measures the log writes raft waits on.
type timedLogStore struct {
	raft.LogStore
	obs Observer
}

// StoreLog times a single entry's write.
func (s timedLogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs times the write of entries, fsync included.
func (s timedLogStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	err := s.LogStore.StoreLogs(logs)
	s.obs.LogStored(len(logs), time.Since(start))
	return err
}

// IsMonotonic passes on the store's answer. The WAL refuses a gap in the
// indexes, and raft empties the log before the entries that follow a
// restored or installed snapshot only for a store that says so: hidden
// behind this wrapper, a snapshot restore or a follower catching up from
// a snapshot fails with "non-monotonic log entries".
func (s timedLogStore) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// RaftStats is this node's Raft view, for metrics.
type RaftStats struct {
	State                    string // leader, follower, candidate, shutdown
	Term                     uint64
	LastIndex, Commit        uint64
	Applied                  uint64
	LastContact              time.Duration // since the leader was last heard from; 0 on the leader
	LeaderKnown, ReadyLeader bool
}

// RaftStats reads raft's counters; no I/O.
func (n *Node) RaftStats() RaftStats {
	st := n.raft.State()
	_, leader := n.raft.LeaderWithID()
	r := RaftStats{State: roleName(st), Term: n.raft.CurrentTerm(), LastIndex: n.raft.LastIndex(),
		Commit: n.raft.CommitIndex(), Applied: n.raft.AppliedIndex(), LeaderKnown: leader != "",
		ReadyLeader: n.ready.Load()}
	if st != raft.Leader {
		if lc := n.raft.LastContact(); !lc.IsZero() {
			r.LastContact = time.Since(lc)
		}
	}
	return r
}
