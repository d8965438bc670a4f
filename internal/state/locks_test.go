package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestState_Acquire(t *testing.T) {
	t.Run("NewGrant", func(t *testing.T) {
		s := newState(t)
		cmd := acquire("db/primary", alice, 30*time.Second)
		r := mustApply(t, s, at(time.Second), cmd)
		if r.Status != Granted || r.Lock.Token != 1 || r.Lock.LeaseID != cmd.LeaseID || r.Holder != "alice" {
			t.Fatalf("got %+v", r)
		}
		if r.Lock.ExpiresAt != at(31*time.Second) || r.Lock.FreeAt != at(32*time.Second) {
			t.Fatalf("expiry %v free %v", r.Lock.ExpiresAt-t0, r.Lock.FreeAt-t0)
		}
	})
	t.Run("SameHolderExtendsKeepingLeaseAndToken", func(t *testing.T) {
		s := newState(t)
		first := mustApply(t, s, t0, acquire("x", alice, 10*time.Second))
		again := mustApply(t, s, at(5*time.Second), acquire("x", alice, 20*time.Second))
		if again.Status != Extended || again.Lock.LeaseID != first.Lock.LeaseID || again.Lock.Token != first.Lock.Token {
			t.Fatalf("got %+v want lease %v token %d", again, first.Lock.LeaseID, first.Lock.Token)
		}
		if again.Lock.ExpiresAt != at(25*time.Second) {
			t.Fatalf("expiry %v", time.Duration(again.Lock.ExpiresAt-t0))
		}
	})
	t.Run("SameHolderShorterTTLKeepsLongerExpiry", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, acquire("x", alice, time.Minute))
		r := mustApply(t, s, at(time.Second), acquire("x", alice, time.Second))
		if r.Lock.ExpiresAt != at(time.Minute) {
			t.Fatalf("expiry %v", time.Duration(r.Lock.ExpiresAt-t0))
		}
	})
	t.Run("OtherHolderConflicts", func(t *testing.T) {
		s := newState(t)
		first := mustApply(t, s, t0, acquire("x", alice, 10*time.Second))
		r := applyAt(s, at(time.Second), acquire("x", bob, 10*time.Second))
		if !errors.Is(r.Err, ErrLockHeld) || r.Holder != "alice" || r.Lock.ExpiresAt != first.Lock.ExpiresAt {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("FreeOnlyAfterExpiryPlusSkew", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, acquire("x", alice, 10*time.Second))
		for _, d := range []time.Duration{10 * time.Second, 11*time.Second - 1} {
			if r := applyAt(s, at(d), acquire("x", bob, time.Second)); !errors.Is(r.Err, ErrLockHeld) {
				t.Fatalf("at %v: got %+v, want conflict inside the skew margin", d, r)
			}
		}
		r := mustApply(t, s, at(11*time.Second), acquire("x", bob, time.Second))
		if r.Status != Granted || r.Lock.Token != 2 || r.Holder != "bob" {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("SameHolderAfterLeaseLapsedGetsNewGrant", func(t *testing.T) {
		s := newState(t)
		first := mustApply(t, s, t0, acquire("x", alice, 10*time.Second))
		r := mustApply(t, s, at(10*time.Second), acquire("x", alice, 10*time.Second))
		if r.Status != Granted || r.Lock.Token <= first.Lock.Token || r.Lock.LeaseID == first.Lock.LeaseID {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("TokensIncreaseAcrossNames", func(t *testing.T) {
		s := newState(t)
		var last uint64
		for i, name := range []string{"a", "b", "a/b", "c"} {
			r := mustApply(t, s, at(time.Duration(i)), acquire(name, alice, time.Second))
			if r.Lock.Token <= last {
				t.Fatalf("%s: token %d after %d", name, r.Lock.Token, last)
			}
			last = r.Lock.Token
		}
	})
	t.Run("UnknownHolderRefused", func(t *testing.T) {
		s := newState(t)
		if r := applyAt(s, t0, acquire("x", uuid.New(), time.Minute)); !errors.Is(r.Err, ErrUnknownUser) {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("MetadataReplacedOnlyWhenGiven", func(t *testing.T) {
		s := newState(t)
		cmd := acquire("x", alice, time.Minute)
		cmd.Metadata = "v1"
		mustApply(t, s, t0, cmd)
		cmd.Metadata = ""
		if r := mustApply(t, s, t0, cmd); *r.Lock.Metadata != "v1" {
			t.Fatalf("metadata %q", *r.Lock.Metadata)
		}
		cmd.Metadata = "v2"
		if r := mustApply(t, s, t0, cmd); *r.Lock.Metadata != "v2" {
			t.Fatalf("metadata %q", *r.Lock.Metadata)
		}
	})
}

func TestState_AcquireWithSession(t *testing.T) {
	s := newState(t)
	s1, s2 := uuid.New(), uuid.New()
	mustApply(t, s, t0, CreateSession{ID: s1, UserID: alice, TTL: 30 * time.Second})
	mustApply(t, s, t0, CreateSession{ID: s2, UserID: alice, TTL: 30 * time.Second})
	withSession := func(id uuid.UUID, holder uuid.UUID) Acquire {
		c := acquire("x", holder, time.Minute)
		c.SessionID = id
		return c
	}
	t.Run("TwoSessionsOfOneUserContend", func(t *testing.T) {
		mustApply(t, s, t0, withSession(s1, alice))
		if r := applyAt(s, t0, withSession(s2, alice)); !errors.Is(r.Err, ErrLockHeld) {
			t.Fatalf("got %+v", r)
		}
		if r := applyAt(s, t0, acquire("x", alice, time.Minute)); !errors.Is(r.Err, ErrLockHeld) {
			t.Fatalf("user without session: got %+v", r)
		}
	})
	t.Run("InvalidSessions", func(t *testing.T) {
		for name, c := range map[string]Acquire{
			"Unknown": withSession(uuid.New(), alice),
			"Foreign": withSession(s1, bob),
		} {
			if r := applyAt(s, t0, c); !errors.Is(r.Err, ErrSessionInvalid) {
				t.Errorf("%s: got %+v", name, r)
			}
		}
		if r := applyAt(s, at(30*time.Second), withSession(s2, alice)); !errors.Is(r.Err, ErrSessionInvalid) {
			t.Errorf("Expired: got %+v", r)
		}
	})
}

func TestState_Renew(t *testing.T) {
	setup := func(t *testing.T) (*State, Lock) {
		s := newState(t)
		return s, mustApply(t, s, t0, acquire("x", alice, 10*time.Second)).Lock
	}
	t.Run("SetsExpiryFromNow", func(t *testing.T) {
		s, l := setup(t)
		r := mustApply(t, s, at(8*time.Second), Renew{Name: "x", LeaseID: l.LeaseID, HolderID: alice, TTL: 10 * time.Second})
		if r.Lock.ExpiresAt != at(18*time.Second) || r.Lock.Token != l.Token || r.Status != Extended {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("ShorterTTLNeverFreesEarlier", func(t *testing.T) {
		s, l := setup(t)
		r := mustApply(t, s, at(time.Second), Renew{Name: "x", LeaseID: l.LeaseID, HolderID: alice, TTL: time.Second})
		if r.Lock.ExpiresAt != at(2*time.Second) || r.Lock.FreeAt != l.FreeAt {
			t.Fatalf("got expires %v free %v", r.Lock.ExpiresAt-t0, r.Lock.FreeAt-t0)
		}
	})
	for name, c := range map[string]struct {
		cmd Renew
		now int64
	}{
		"WrongLease":  {Renew{Name: "x", LeaseID: uuid.New(), HolderID: alice, TTL: time.Second}, t0},
		"NotCallers":  {Renew{Name: "x", HolderID: bob, TTL: time.Second}, t0},
		"UnknownLock": {Renew{Name: "y", HolderID: alice, TTL: time.Second}, t0},
		"Expired":     {Renew{Name: "x", HolderID: alice, TTL: time.Second}, at(10 * time.Second)},
	} {
		t.Run(name, func(t *testing.T) {
			s, l := setup(t)
			if c.cmd.LeaseID == uuid.Nil {
				c.cmd.LeaseID = l.LeaseID
			}
			if r := applyAt(s, c.now, c.cmd); !errors.Is(r.Err, ErrLockNotFound) {
				t.Fatalf("got %+v", r)
			}
		})
	}
}

func TestState_Release(t *testing.T) {
	s := newState(t)
	l := mustApply(t, s, t0, acquire("x", alice, 10*time.Second)).Lock
	if r := applyAt(s, t0, Release{Name: "x", LeaseID: uuid.New(), HolderID: alice}); !errors.Is(r.Err, ErrLockNotFound) {
		t.Fatalf("wrong lease: %+v", r)
	}
	if r := applyAt(s, t0, Release{Name: "x", LeaseID: l.LeaseID, HolderID: bob}); !errors.Is(r.Err, ErrLockNotFound) {
		t.Fatalf("other holder: %+v", r)
	}
	mustApply(t, s, at(time.Second), Release{Name: "x", LeaseID: l.LeaseID, HolderID: alice})
	if _, held := s.GetLock("x", at(time.Second)); held {
		t.Fatal("still held after release")
	}
	if r := applyAt(s, at(time.Second), Release{Name: "x", LeaseID: l.LeaseID, HolderID: alice}); !errors.Is(r.Err, ErrLockNotFound) {
		t.Fatalf("second release: %+v", r)
	}
	r := mustApply(t, s, at(time.Second), acquire("x", bob, time.Second))
	if r.Lock.Token != 2 {
		t.Fatalf("token after release %d", r.Lock.Token)
	}
	if r := applyAt(s, at(2*time.Second), Release{Name: "x", LeaseID: r.Lock.LeaseID, HolderID: bob}); !errors.Is(r.Err, ErrLockNotFound) {
		t.Fatalf("release after expiry: %+v", r)
	}
}

func TestState_ExpireDue(t *testing.T) {
	s := newState(t)
	mustApply(t, s, t0, acquire("a", alice, 10*time.Second))
	mustApply(t, s, t0, acquire("b", alice, 20*time.Second))
	if next, ok := s.NextDeadline(); !ok || next != at(11*time.Second) {
		t.Fatalf("next deadline %v %v", time.Duration(next-t0), ok)
	}
	if r := mustApply(t, s, at(11*time.Second-1), ExpireDue{Limit: 10}); r.Count != 0 {
		t.Fatalf("expired %d before FreeAt", r.Count)
	}
	if r := mustApply(t, s, at(11*time.Second), ExpireDue{Limit: 10}); r.Count != 1 || s.LockCount() != 1 {
		t.Fatalf("expired %d, %d locks left", r.Count, s.LockCount())
	}
	t.Run("RespectsLimit", func(t *testing.T) {
		s := newState(t)
		for _, n := range []string{"a", "b", "c"} {
			mustApply(t, s, t0, acquire(n, alice, time.Second))
		}
		if r := mustApply(t, s, at(time.Hour), ExpireDue{Limit: 2}); r.Count != 2 || s.LockCount() != 1 {
			t.Fatalf("expired %d, %d left", r.Count, s.LockCount())
		}
	})
	t.Run("RenewMovesDeadline", func(t *testing.T) {
		s := newState(t)
		l := mustApply(t, s, t0, acquire("a", alice, 10*time.Second)).Lock
		mustApply(t, s, at(9*time.Second), Renew{Name: "a", LeaseID: l.LeaseID, HolderID: alice, TTL: 10 * time.Second})
		if r := mustApply(t, s, at(11*time.Second), ExpireDue{Limit: 10}); r.Count != 0 {
			t.Fatal("a renewed lock expired at its old deadline")
		}
		if next, _ := s.NextDeadline(); next != at(20*time.Second) {
			t.Fatalf("next deadline %v", time.Duration(next-t0))
		}
	})
}

func TestState_TimeNeverRunsBackwards(t *testing.T) {
	s := newState(t)
	mustApply(t, s, at(time.Minute), acquire("a", alice, 10*time.Second))
	r := mustApply(t, s, t0, acquire("b", alice, 10*time.Second))
	if r.Lock.ExpiresAt != at(time.Minute+10*time.Second) || s.LastNow() != at(time.Minute) {
		t.Fatalf("expires at %v", time.Duration(r.Lock.ExpiresAt-t0))
	}
}

func TestState_ListLocks(t *testing.T) {
	s := newState(t)
	for _, n := range []string{"svc/b", "svc/a", "svc-x", "svc/c/d", "other"} {
		mustApply(t, s, t0, acquire(n, alice, time.Minute))
	}
	mustApply(t, s, t0, acquire("svc/short", alice, time.Second))
	names := func(ls []Lock) (out []string) {
		for _, l := range ls {
			out = append(out, l.Name)
		}
		return out
	}
	got, more := s.ListLocks("svc/", "", 10, at(5*time.Second))
	if want := []string{"svc/a", "svc/b", "svc/c/d"}; !equal(names(got), want) || more {
		t.Fatalf("got %v more=%v, want %v (expired svc/short hidden)", names(got), more, want)
	}
	got, more = s.ListLocks("svc/", "", 2, t0)
	if !equal(names(got), []string{"svc/a", "svc/b"}) || !more {
		t.Fatalf("page 1: %v more=%v", names(got), more)
	}
	got, more = s.ListLocks("svc/", "svc/b", 2, t0)
	if !equal(names(got), []string{"svc/c/d", "svc/short"}) || more {
		t.Fatalf("page 2: %v more=%v", names(got), more)
	}
	if got, _ := s.ListLocks("", "", 100, t0); len(got) != 6 {
		t.Fatalf("all: %v", names(got))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestValidLockName(t *testing.T) {
	long := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
		}
		return string(b)
	}
	for _, ok := range []string{"a", "svc/db/primary", "a.b_c-d", "..a", long(64), long(64) + "/" + long(64)} {
		if err := ValidLockName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/a", "a/", "a//b", ".", "a/..", "a b", "a%2Fb", "ü", long(65),
		long(64) + "/" + long(64) + "/" + long(64) + "/" + long(64) + "/" + "x"} {
		if err := ValidLockName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
