package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu                      sync.Mutex
	stored, applied         int
	events                  EventTally
	snapshots, snapshotSize int64
}

func (r *recorder) LogStored(entries int, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stored += entries
}

func (r *recorder) Applied(entries int, _ time.Duration, t EventTally) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied += entries
	r.events.Acquired += t.Acquired
	r.events.Renewed += t.Renewed
	r.events.Released += t.Released
	r.events.Expired += t.Expired
}

func (r *recorder) SnapshotPersisted(bytes int64, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.snapshots++
	r.snapshotSize = bytes
}

func TestNode_Observer(t *testing.T) {
	rec := &recorder{}
	n := openNodeWith(t, Config{DataDir: t.TempDir(), Observer: rec})
	defer n.Close()
	addUser(t, n)
	lease := uuid.New()
	mustApply(t, n, state.Acquire{Name: "a", LeaseID: lease, HolderID: user, TTL: time.Minute})
	mustApply(t, n, state.Acquire{Name: "a", LeaseID: uuid.New(), HolderID: user, TTL: time.Minute})
	mustApply(t, n, state.Release{Name: "a", LeaseID: lease, HolderID: user})
	if err := n.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.stored < 4 || rec.applied < 4 {
		t.Errorf("stored %d, applied %d entries", rec.stored, rec.applied)
	}
	if rec.events != (EventTally{Acquired: 1, Renewed: 1, Released: 1}) {
		t.Errorf("events %+v", rec.events)
	}
	if rec.snapshots != 1 || rec.snapshotSize == 0 {
		t.Errorf("%d snapshots, the last of %d bytes", rec.snapshots, rec.snapshotSize)
	}
	if s := n.RaftStats(); s.State != "leader" || !s.ReadyLeader || s.Applied < 4 || s.Term == 0 {
		t.Errorf("raft stats %+v", s)
	}
}
