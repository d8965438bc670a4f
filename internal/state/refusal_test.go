package state

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// TestState_RefusalMatchesApply: whenever Refusal answers, applying the
// command at the same time gives exactly that answer and leaves the state
// byte-identical, for every state the random histories reach. It is what
// makes answering a refusal without a log write safe.
func TestState_RefusalMatchesApply(t *testing.T) {
	answered := map[error]int{}
	rapid.Check(t, func(t *rapid.T) {
		w := &world{names: []string{"a", "a/b", "b"}, users: []uuid.UUID{alice, bob}}
		s := New()
		s.Apply(Batch{Now: t0, Commands: []Command{SyncStaticUsers{Users: []StaticUser{
			{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("A")}},
			{ID: bob, Login: "bob", Hashes: []TokenHash{HashToken("B")}}}}}})
		for _, b := range w.drawBatches(t) {
			for _, r := range s.Apply(b) {
				w.noteLease(r)
			}
			s.TakeHandoffs()
		}
		now := s.LastNow() + int64(time.Duration(rapid.IntRange(0, 9000).Draw(t, "later"))*time.Millisecond)
		s.Apply(Batch{Now: now, Skew: skew}) // the read's time is the state's time
		for i := rapid.IntRange(1, 6).Draw(t, "probes"); i > 0; i-- {
			if err := checkRefusal(t, s, now, w.probe(t)); err != nil {
				answered[err]++
			}
		}
	})
	for _, err := range []error{ErrLockHeld, ErrLockNotFound, ErrSessionInvalid} {
		if answered[err] == 0 {
			t.Errorf("no probe was answered %v by Refusal: that path is untested", err)
		}
	}
}

// probe draws a command Refusal may answer: a try-lock, or a renew or
// release with a lease that may or may not be the current one.
func (w *world) probe(t *rapid.T) Command {
	name := rapid.SampledFrom(w.names).Draw(t, "pname")
	user := rapid.SampledFrom(w.users).Draw(t, "puser")
	switch rapid.IntRange(0, 2).Draw(t, "pop") {
	case 0:
		return Acquire{Name: name, LeaseID: uuid.New(), HolderID: user, SessionID: w.maybeSession(t), TTL: time.Second}
	case 1:
		return Renew{Name: name, LeaseID: w.lease(t), HolderID: user, TTL: time.Second}
	}
	return Release{Name: name, LeaseID: w.lease(t), HolderID: user}
}

// checkRefusal applies cmd to a copy of s when Refusal answers it and
// compares; it returns Refusal's answer (nil: none).
func checkRefusal(t *rapid.T, s *State, now int64, cmd Command) error {
	want, ok := s.Refusal(cmd, now)
	if !ok {
		return nil
	}
	if want.Err == nil {
		t.Fatalf("Refusal answered %T with a success: %+v", cmd, want)
	}
	before := snapshotBytes(t, s)
	c := mustRestore(t, s)
	got := c.Apply(Batch{Now: now, Skew: skew, Commands: []Command{cmd}})[0]
	if !errors.Is(got.Err, want.Err) || !reflect.DeepEqual(got.Lock, want.Lock) || got.Holder != want.Holder || got.Status != want.Status {
		t.Fatalf("%T %+v: Refusal %+v, Apply %+v", cmd, cmd, want, got)
	}
	if !bytes.Equal(snapshotBytes(t, c), before) {
		t.Fatalf("%T %+v: Refusal answered, but applying it changed the state", cmd, cmd)
	}
	return want.Err
}

func TestState_Refusal(t *testing.T) {
	s := newState(t)
	held := mustApply(t, s, at(0), acquire("a", alice, 10*time.Second)).Lock
	for name, c := range map[string]struct {
		cmd  Command
		now  int64
		want error // nil: only applying can tell
	}{
		"TryLockHeldByOther":      {acquire("a", bob, time.Second), at(time.Second), ErrLockHeld},
		"TryLockOwnHeld":          {acquire("a", alice, time.Second), at(time.Second), nil},
		"TryLockFree":             {acquire("b", bob, time.Second), at(time.Second), nil},
		"TryLockPastFreeAt":       {acquire("a", bob, time.Second), held.FreeAt, nil},
		"WaitingAcquire":          {Acquire{Name: "a", LeaseID: uuid.New(), HolderID: bob, TTL: time.Second, Wait: time.Second}, at(time.Second), nil},
		"RenewCurrentLease":       {Renew{Name: "a", LeaseID: held.LeaseID, HolderID: alice, TTL: time.Second}, at(time.Second), nil},
		"RenewOtherLease":         {Renew{Name: "a", LeaseID: uuid.New(), HolderID: alice, TTL: time.Second}, at(time.Second), ErrLockNotFound},
		"RenewAfterExpiresAt":     {Renew{Name: "a", LeaseID: held.LeaseID, HolderID: alice, TTL: time.Second}, held.ExpiresAt, ErrLockNotFound},
		"ReleaseByOtherUser":      {Release{Name: "a", LeaseID: held.LeaseID, HolderID: bob}, at(time.Second), ErrLockNotFound},
		"ReleaseNoSuchLock":       {Release{Name: "zzz", LeaseID: held.LeaseID, HolderID: alice}, at(time.Second), ErrLockNotFound},
		"ReleasePastFreeAt":       {Release{Name: "a", LeaseID: held.LeaseID, HolderID: alice}, held.FreeAt, nil},
		"NotALockCommand":         {KeepAlive{ID: uuid.New(), UserID: alice}, at(time.Second), nil},
		"TryLockWithUnknownUser":  {acquire("a", uuid.New(), time.Second), at(time.Second), nil},
		"TryLockWithBadSessionOn": {Acquire{Name: "a", LeaseID: uuid.New(), HolderID: bob, SessionID: uuid.New(), TTL: time.Second}, at(time.Second), ErrSessionInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			res, ok := s.Refusal(c.cmd, c.now)
			if ok != (c.want != nil) || !errors.Is(res.Err, c.want) {
				t.Fatalf("Refusal = %+v, %v; want %v", res, ok, c.want)
			}
		})
	}
}
