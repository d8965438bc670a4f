package cluster

import (
	"context"
	"errors"
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
	refused                 int
}

func (r *recorder) Refused() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refused++
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

// TestNode_RefusalsWriteNothing: a try-lock on a held lock and a renew or
// release of a stale lease are answered from the state, exactly as the
// log would have answered, and write no log entry; a grant still does.
func TestNode_RefusalsWriteNothing(t *testing.T) {
	rec := &recorder{}
	n := openNodeWith(t, Config{DataDir: t.TempDir(), Observer: rec})
	defer n.Close()
	addUser(t, n)
	other := uuid.New()
	mustApply(t, n, state.IssueToken{UserID: other, Login: "other", Hash: state.HashToken("o")})
	held := mustApply(t, n, state.Acquire{Name: "a", LeaseID: uuid.New(), HolderID: user, TTL: time.Minute}).Lock
	last := n.raft.LastIndex()
	stale := uuid.New()
	for _, c := range []struct {
		cmd  state.Command
		want error
	}{
		{state.Acquire{Name: "a", LeaseID: uuid.New(), HolderID: other, TTL: time.Minute}, state.ErrLockHeld},
		{state.Renew{Name: "a", LeaseID: stale, HolderID: user, TTL: time.Minute}, state.ErrLockNotFound},
		{state.Release{Name: "a", LeaseID: held.LeaseID, HolderID: other}, state.ErrLockNotFound},
		{state.Release{Name: "nothing", LeaseID: stale, HolderID: user}, state.ErrLockNotFound},
	} {
		r, err := n.Apply(context.Background(), c.cmd)
		if err != nil || !errors.Is(r.Err, c.want) {
			t.Fatalf("%T: %+v, %v; want %v", c.cmd, r, err, c.want)
		}
		if c.want == state.ErrLockHeld && (r.Lock.LeaseID != held.LeaseID || r.Holder != "admin") {
			t.Fatalf("409 shows %+v held by %q, want the holder's lock", r.Lock, r.Holder)
		}
	}
	if got := n.raft.LastIndex(); got != last {
		t.Fatalf("refusals wrote %d log entries", got-last)
	}
	mustApply(t, n, state.Acquire{Name: "b", LeaseID: uuid.New(), HolderID: other, TTL: time.Minute})
	if n.raft.LastIndex() == last {
		t.Fatal("a grant wrote no log entry")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.refused != 4 {
		t.Fatalf("observer counted %d refusals, want 4", rec.refused)
	}
}
