package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func waiting(name string, holder uuid.UUID, ttl, wait time.Duration) Acquire {
	c := acquire(name, holder, ttl)
	c.Wait = wait
	return c
}

func TestState_Waiters(t *testing.T) {
	carol := uuid.MustParse("00000000-0000-4000-8000-0000000ca201")
	setup := func(t *testing.T) *State {
		s := newState(t)
		mustApply(t, s, t0, SyncStaticUsers{Users: []StaticUser{{ID: alice, Login: "alice"}, {ID: bob, Login: "bob"}, {ID: carol, Login: "carol"}}})
		return s
	}
	t.Run("GrantedInArrivalOrderOnRelease", func(t *testing.T) {
		s := setup(t)
		held := mustApply(t, s, t0, acquire("x", alice, time.Minute)).Lock
		b := waiting("x", bob, time.Minute, time.Minute)
		c := waiting("x", carol, time.Minute, time.Minute)
		for _, w := range []Acquire{b, c} {
			if r := mustApply(t, s, t0, w); r.Status != Queued || r.Holder != "alice" {
				t.Fatalf("queued: %+v", r)
			}
		}
		if r := applyAt(s, t0, acquire("x", bob, time.Minute)); !errors.Is(r.Err, ErrLockHeld) {
			t.Fatalf("try-lock while others wait: %+v", r)
		}
		mustApply(t, s, at(time.Second), Release{Name: "x", LeaseID: held.LeaseID, HolderID: alice})
		h := s.TakeHandoffs()
		if len(h) != 1 || h[0].LeaseID != b.LeaseID || h[0].Token != held.Token+1 || s.Waiting("x") != 1 {
			t.Fatalf("handoffs %+v, %d waiting", h, s.Waiting("x"))
		}
		if got, _ := s.GetLock("x", at(time.Second)); got.HolderID != bob || got.ExpiresAt != at(time.Minute+time.Second) {
			t.Fatalf("lock %+v", got)
		}
		mustApply(t, s, at(2*time.Second), Release{Name: "x", LeaseID: b.LeaseID, HolderID: bob})
		if h := s.TakeHandoffs(); len(h) != 1 || h[0].LeaseID != c.LeaseID || s.Waiting("x") != 0 {
			t.Fatalf("second handoff %+v", h)
		}
	})
	t.Run("ExpiryHandsOffAfterSkew", func(t *testing.T) {
		s := setup(t)
		mustApply(t, s, t0, acquire("x", alice, time.Second))
		b := waiting("x", bob, time.Minute, time.Minute)
		mustApply(t, s, t0, b)
		mustApply(t, s, at(time.Second), ExpireDue{Limit: 10})
		if h := s.TakeHandoffs(); len(h) != 0 {
			t.Fatalf("handed off inside the skew margin: %+v", h)
		}
		mustApply(t, s, at(2*time.Second), ExpireDue{Limit: 10})
		if h := s.TakeHandoffs(); len(h) != 1 || h[0].LeaseID != b.LeaseID {
			t.Fatalf("handoffs %+v", h)
		}
	})
	t.Run("LapsedHolderKeepsItFromWaitersUntilFreeAt", func(t *testing.T) {
		s := setup(t)
		first := mustApply(t, s, t0, acquire("x", alice, time.Second)).Lock
		mustApply(t, s, t0, waiting("x", bob, time.Minute, time.Minute))
		r := mustApply(t, s, at(1500*time.Millisecond), acquire("x", alice, time.Minute))
		if r.Status != Granted || r.Lock.Token <= first.Token || len(s.TakeHandoffs()) != 0 {
			t.Fatalf("re-acquire after lapse: %+v", r)
		}
	})
	t.Run("PastDeadlineAndEndedSessionsAreSkipped", func(t *testing.T) {
		s := setup(t)
		held := mustApply(t, s, t0, acquire("x", alice, time.Minute)).Lock
		mustApply(t, s, t0, waiting("x", bob, time.Minute, time.Second)) // gives up after 1 s
		sess := newSession(t, s, carol, time.Minute)
		inSession := waiting("x", carol, time.Minute, time.Minute)
		inSession.SessionID = sess.ID
		mustApply(t, s, t0, inSession)
		last := waiting("x", alice, time.Minute, time.Minute)
		last.HolderID = carol
		mustApply(t, s, t0, last)
		mustApply(t, s, t0, DeleteSession{ID: sess.ID, UserID: carol})
		mustApply(t, s, at(2*time.Second), Release{Name: "x", LeaseID: held.LeaseID, HolderID: alice})
		if h := s.TakeHandoffs(); len(h) != 1 || h[0].LeaseID != last.LeaseID {
			t.Fatalf("handoffs %+v", h)
		}
	})
	t.Run("CancelWait", func(t *testing.T) {
		s := setup(t)
		held := mustApply(t, s, t0, acquire("x", alice, time.Minute)).Lock
		b := waiting("x", bob, time.Minute, time.Minute)
		mustApply(t, s, t0, b)
		r := mustApply(t, s, t0, CancelWait{Name: "x", LeaseID: b.LeaseID, HolderID: bob})
		if r.Status != 0 || r.Holder != "alice" || s.Waiting("x") != 0 {
			t.Fatalf("cancel of a queued waiter: %+v", r)
		}
		c := waiting("x", carol, time.Minute, time.Minute)
		mustApply(t, s, t0, c)
		mustApply(t, s, t0, Release{Name: "x", LeaseID: held.LeaseID, HolderID: alice})
		if r := mustApply(t, s, t0, CancelWait{Name: "x", LeaseID: c.LeaseID, HolderID: carol}); r.Status != Granted || r.Lock.LeaseID != c.LeaseID {
			t.Fatalf("cancel after the grant: %+v", r)
		}
		if r := applyAt(s, t0, CancelWait{Name: "x", LeaseID: uuid.New(), HolderID: bob}); !errors.Is(r.Err, ErrWaiterNotFound) {
			t.Fatalf("cancel of nobody: %+v", r)
		}
	})
	t.Run("CancelAllWaiters", func(t *testing.T) {
		s := setup(t)
		held := mustApply(t, s, t0, acquire("x", alice, time.Minute)).Lock
		mustApply(t, s, t0, waiting("x", bob, time.Minute, time.Minute))
		mustApply(t, s, t0, CancelAllWaiters{})
		mustApply(t, s, t0, Release{Name: "x", LeaseID: held.LeaseID, HolderID: alice})
		if h := s.TakeHandoffs(); len(h) != 0 || s.Waiting("x") != 0 {
			t.Fatalf("handoffs %+v", h)
		}
	})
}
