package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestState_LockQuota(t *testing.T) {
	s := newState(t)
	a := acquire("q/1", alice, time.Minute)
	a.MaxLocks = 2
	mustApply(t, s, t0, a)
	a.Name, a.LeaseID = "q/2", uuid.New()
	mustApply(t, s, t0, a)
	a.Name, a.LeaseID = "q/3", uuid.New()
	if r := applyAt(s, t0, a); !errors.Is(r.Err, ErrTooManyLocks) {
		t.Fatalf("third lock over a quota of 2: %+v", r)
	}
	// Extending a held lock is not a new lock.
	again := acquire("q/1", alice, time.Minute)
	again.MaxLocks = 2
	if r := mustApply(t, s, at(time.Second), again); r.Status != Extended {
		t.Fatalf("extend at the quota: %+v", r)
	}
	// Another user is not affected; waiting at the quota is refused too.
	b := acquire("q/3", bob, time.Minute)
	b.MaxLocks = 2
	mustApply(t, s, t0, b)
	w := waiting("q/3", alice, time.Minute, 10*time.Second)
	w.MaxLocks = 2
	if r := applyAt(s, t0, w); !errors.Is(r.Err, ErrTooManyLocks) {
		t.Fatalf("wait over the quota: %+v", r)
	}
	if s.counts.locksBy[alice] != 2 || s.counts.locksBy[bob] != 1 {
		t.Fatalf("held: alice %d bob %d", s.counts.locksBy[alice], s.counts.locksBy[bob])
	}
	// Expiry frees quota.
	mustApply(t, s, at(2*time.Minute), ExpireDue{Limit: 100})
	a.Name, a.LeaseID = "q/4", uuid.New()
	mustApply(t, s, at(2*time.Minute), a)
	if err := s.checkIndexes(); err != nil {
		t.Fatal(err)
	}
}

func TestState_SessionQuota(t *testing.T) {
	s := newState(t)
	c := CreateSession{UserID: alice, TTL: time.Minute, MaxSessions: 1}
	c.ID = uuid.New()
	first := mustApply(t, s, t0, c).Session
	c.ID = uuid.New()
	if r := applyAt(s, t0, c); !errors.Is(r.Err, ErrTooManySessions) {
		t.Fatalf("second session over a quota of 1: %+v", r)
	}
	mustApply(t, s, t0, DeleteSession{ID: first.ID, UserID: alice})
	c.ID = uuid.New()
	mustApply(t, s, t0, c)
	if s.counts.sessionsBy[alice] != 1 || s.Counts().Sessions != 1 {
		t.Fatalf("live: %d, counts %+v", s.counts.sessionsBy[alice], s.Counts())
	}
}

// An entry of version 2 (before quotas) decodes with no limits.
func TestCodec_Version2HasNoQuota(t *testing.T) {
	id := uuid.MustParse("11111111-2222-4333-8444-555555555555")
	e := encoder{}
	e.u8(batchMagic)
	e.u8(2)
	e.varint(t0)
	e.dur(time.Second)
	e.uvarint(2)
	e.u8(byte(kindAcquire))
	e.str("a")
	e.id(id)
	e.id(alice)
	e.id(uuid.Nil)
	e.dur(time.Minute)
	e.str("")
	e.dur(0)
	e.u8(byte(kindCreateSession))
	e.id(id)
	e.id(alice)
	e.dur(time.Minute)
	b, err := DecodeBatch(e.buf)
	if err != nil {
		t.Fatal(err)
	}
	if a := b.Commands[0].(Acquire); a.MaxLocks != 0 || a.TTL != time.Minute {
		t.Fatalf("acquire %+v", a)
	}
	if c := b.Commands[1].(CreateSession); c.MaxSessions != 0 || c.TTL != time.Minute {
		t.Fatalf("session %+v", c)
	}
}

// A re-acquire refused by the quota leaves the caller's lapsed lease in
// place: nobody else gets the name before its FreeAt.
func TestState_QuotaRefusalKeepsLapsedLease(t *testing.T) {
	s := newState(t)
	mustApply(t, s, t0, acquire("x", alice, time.Second))
	mustApply(t, s, t0, acquire("y", alice, time.Minute))
	lapsed := at(time.Second + skew/2) // past ExpiresAt, before FreeAt
	again := acquire("x", alice, time.Minute)
	again.MaxLocks = 1
	if r := applyAt(s, lapsed, again); !errors.Is(r.Err, ErrTooManyLocks) {
		t.Fatalf("re-acquire over the quota: %+v", r)
	}
	if r := applyAt(s, lapsed, acquire("x", bob, time.Minute)); !errors.Is(r.Err, ErrLockHeld) {
		t.Fatalf("bob got x before its FreeAt: %+v", r)
	}
	again.MaxLocks = 2 // the lapsed lease is replaced, not added to
	if r := mustApply(t, s, lapsed, again); r.Status != Granted {
		t.Fatalf("re-acquire within the quota: %+v", r)
	}
}
