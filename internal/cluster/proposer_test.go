package cluster

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/state"
)

// propose makes cmd's proposal; a waiting acquire is patient, as if its
// lock were held by someone else (Apply decides that from the state).
func propose(cmd state.Command) *proposal {
	a, waiting := cmd.(state.Acquire)
	return &proposal{cmd: cmd, done: make(chan struct{}), patient: waiting && a.Wait > 0}
}

// TestDrain_PatientBatches: a batch of only waiting acquires waits a
// moment for company (the release that will hand the lock on), anything
// else is proposed at once, and whatever is queued already always joins.
func TestDrain_PatientBatches(t *testing.T) {
	waiting := state.Acquire{Name: "l", LeaseID: uuid.New(), HolderID: uuid.New(), TTL: time.Minute, Wait: time.Minute}
	release := state.Release{Name: "l", LeaseID: uuid.New(), HolderID: uuid.New()}
	tryLock := state.Acquire{Name: "l", LeaseID: uuid.New(), HolderID: uuid.New(), TTL: time.Minute}
	newNode := func() *Node {
		return &Node{queue: make(chan *proposal, 8), shutdownCh: make(chan struct{}), linger: patientLinger}
	}

	t.Run("ReleaseGoesAtOnce", func(t *testing.T) {
		n := newNode()
		n.linger = time.Minute // lingering would show as a stall
		start := time.Now()
		if b := n.drain(propose(release)); len(b) != 1 || time.Since(start) > n.linger/2 {
			t.Fatalf("batch of %d after %v", len(b), time.Since(start))
		}
	})
	t.Run("TryLockGoesAtOnce", func(t *testing.T) {
		n := newNode()
		n.linger = time.Minute
		start := time.Now()
		if b := n.drain(propose(tryLock)); len(b) != 1 || time.Since(start) > n.linger/2 {
			t.Fatalf("batch of %d after %v", len(b), time.Since(start))
		}
	})
	t.Run("WaitingAcquireTakesTheNextProposal", func(t *testing.T) {
		n := newNode()
		n.linger = time.Hour // the release surely comes first, however slow the machine
		go func() { n.queue <- propose(release) }()
		if b := n.drain(propose(waiting)); len(b) != 2 {
			t.Fatalf("batch of %d, want the waiting acquire and the release", len(b))
		}
	})
	t.Run("WaitingAcquireAloneStillGoes", func(t *testing.T) {
		n := newNode()
		start := time.Now()
		if b := n.drain(propose(waiting)); len(b) != 1 || time.Since(start) < n.linger {
			t.Fatalf("batch of %d after %v, want 1 after the linger", len(b), time.Since(start))
		}
	})
	t.Run("ShutdownEndsTheLinger", func(t *testing.T) {
		n := newNode()
		n.linger = time.Hour
		close(n.shutdownCh)
		if b := n.drain(propose(waiting)); len(b) != 1 {
			t.Fatalf("batch of %d", len(b))
		}
	})
	t.Run("AnotherWaitingAcquireIsNoReasonToStop", func(t *testing.T) {
		n := newNode()
		n.linger = time.Hour
		second := propose(waiting)
		go func() {
			n.queue <- second
			// Only once drain has taken the second waiting acquire does
			// the release come: drain must still be waiting for it.
			poll.Wait(time.Minute, func() bool { return len(n.queue) == 0 })
			n.queue <- propose(release)
		}()
		b := n.drain(propose(waiting))
		if len(b) != 3 || b[1] != second {
			t.Fatalf("batch of %d, want both waiting acquires and the release", len(b))
		}
	})
	t.Run("WaitingAcquireOfAFreeLockGoesAtOnce", func(t *testing.T) {
		n := newNode()
		n.linger = time.Minute
		start := time.Now()
		if b := n.drain(&proposal{cmd: waiting, done: make(chan struct{})}); len(b) != 1 || time.Since(start) > n.linger/2 {
			t.Fatalf("batch of %d after %v", len(b), time.Since(start))
		}
	})
}

// TestNode_LockHeldByOther: the lingering hint reads the local state: a
// lock held by someone else, not a free one or the caller's own.
func TestNode_LockHeldByOther(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.Close()
	addUser(t, n)
	other := uuid.New()
	held := mustApply(t, n, state.Acquire{Name: "a", LeaseID: uuid.New(), HolderID: user, TTL: time.Minute}).Lock
	for _, c := range []struct {
		a    state.Acquire
		want bool
	}{
		{state.Acquire{Name: "a", HolderID: other}, true},
		{state.Acquire{Name: "a", HolderID: user}, false},
		{state.Acquire{Name: "a", HolderID: user, SessionID: uuid.New()}, true},
		{state.Acquire{Name: "free", HolderID: other}, false},
	} {
		if got := n.lockHeldByOther(c.a); got != c.want {
			t.Errorf("%+v with %s held: %v, want %v", c.a, held.Name, got, c.want)
		}
	}
}
