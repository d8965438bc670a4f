package state

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
)

var carol = uuid.MustParse("00000000-0000-4000-8000-0000000ca401")

// newState3 returns a State with users alice, bob and carol.
func newState3(t *testing.T) *State {
	t.Helper()
	s := New()
	mustApply(t, s, t0, SyncStaticUsers{Users: []StaticUser{
		{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("A")}},
		{ID: bob, Login: "bob", Hashes: []TokenHash{HashToken("B")}},
		{ID: carol, Login: "carol", Hashes: []TokenHash{HashToken("C")}},
	}})
	return s
}

func sem(name string, holder uuid.UUID, limit int, ttl time.Duration) Acquire {
	return Acquire{Name: name, LeaseID: uuid.New(), HolderID: holder, TTL: ttl, Limit: limit}
}

func shared(name string, holder uuid.UUID, ttl time.Duration) Acquire {
	return Acquire{Name: name, LeaseID: uuid.New(), HolderID: holder, TTL: ttl, Mode: Shared}
}

func queued(c Acquire, wait time.Duration) Acquire {
	c.Wait = wait
	return c
}

func holders(t *testing.T, s *State, name string, now int64) []Lock {
	t.Helper()
	st, _ := s.LockStatus(name, now)
	return st.Holders
}

// TestPrims_LockStaysSmall: a plain mutex is still one 96-byte record
// (a malloc size class) and nothing else; semaphores and read/write locks
// pay for their shape in a map of their own.
func TestPrims_LockStaysSmall(t *testing.T) {
	if n := unsafe.Sizeof(Lock{}); n != 96 {
		t.Fatalf("Lock is %d bytes, was 96", n)
	}
	s := newState(t)
	mustApply(t, s, at(0), acquire("a", alice, time.Minute))
	if len(s.shapes) != 0 || len(s.elected) != 0 {
		t.Fatalf("a mutex stored a shape: %v %v", s.shapes, s.elected)
	}
}

func TestPrims_Semaphore(t *testing.T) {
	t.Run("LimitSlotsThenHeld", func(t *testing.T) {
		s := newState3(t)
		var last uint64
		for i, u := range []uuid.UUID{alice, bob, alice} {
			r := mustApply(t, s, at(time.Duration(i)*time.Second), sem("s", u, 3, time.Minute))
			if r.Status != Granted || r.Limit != 3 || r.Lock.Token <= last {
				t.Fatalf("slot %d: %+v", i, r)
			}
			last = r.Lock.Token
		}
		r := applyAt(s, at(5*time.Second), sem("s", carol, 3, time.Minute))
		if !errors.Is(r.Err, ErrLockHeld) || r.Limit != 3 || r.Lock.HolderID != alice {
			t.Fatalf("4th acquirer: %+v", r)
		}
		st, ok := s.LockStatus("s", at(5*time.Second))
		if !ok || st.Limit != 3 || st.Mode != Exclusive || len(st.Holders) != 3 {
			t.Fatalf("status %+v", st)
		}
		if l, _ := s.ListLocks("", "", 10, at(5*time.Second)); len(l) != 1 {
			t.Fatalf("ListLocks lists a semaphore once, got %d", len(l))
		}
		if ls, _ := s.ListLockStatuses("", "", 10, at(5*time.Second)); len(ls) != 1 || len(ls[0].Holders) != 3 {
			t.Fatalf("ListLockStatuses %+v", ls)
		}
	})
	t.Run("SameHolderTakesAnotherSlot", func(t *testing.T) {
		s := newState3(t)
		a := mustApply(t, s, at(0), sem("s", alice, 2, time.Minute))
		b := mustApply(t, s, at(0), sem("s", alice, 2, time.Minute))
		if b.Status != Granted || a.Lock.LeaseID == b.Lock.LeaseID || s.counts.locksBy[alice] != 2 {
			t.Fatalf("second acquire %+v", b)
		}
	})
	t.Run("QuotaCountsSlots", func(t *testing.T) {
		s := newState3(t)
		mustApply(t, s, at(0), sem("s", alice, 3, time.Minute))
		c := sem("s", alice, 3, time.Minute)
		c.MaxLocks = 1
		if r := applyAt(s, at(0), c); !errors.Is(r.Err, ErrTooManyLocks) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("WaitersGetFreedSlotsInOrder", func(t *testing.T) {
		s := newState3(t)
		a := mustApply(t, s, at(0), sem("s", alice, 2, time.Minute)).Lock
		b := mustApply(t, s, at(0), sem("s", alice, 2, 10*time.Second)).Lock
		w1 := mustApply(t, s, at(1*time.Second), queued(sem("s", bob, 2, time.Minute), time.Minute))
		w2 := mustApply(t, s, at(2*time.Second), queued(sem("s", carol, 2, time.Minute), time.Minute))
		if w1.Status != Queued || w2.Status != Queued || s.Waiting("s") != 2 {
			t.Fatalf("waiters %+v %+v", w1, w2)
		}
		mustApply(t, s, at(3*time.Second), Release{Name: "s", LeaseID: a.LeaseID, HolderID: alice})
		h := s.TakeHandoffs()
		if len(h) != 1 || h[0].HolderID != bob {
			t.Fatalf("handoffs %+v", h)
		}
		// b's slot expires: carol gets it.
		if n := mustApply(t, s, b.FreeAt, ExpireDue{Limit: 10}).Count; n != 1 {
			t.Fatalf("expired %d", n)
		}
		if h := s.TakeHandoffs(); len(h) != 1 || h[0].HolderID != carol {
			t.Fatalf("handoffs %+v", h)
		}
	})
}

func TestPrims_LimitMismatch(t *testing.T) {
	for name, c := range map[string]struct {
		held, ask Acquire
		want      int
	}{
		"SemaphoreAskedWithOtherLimit": {sem("x", alice, 3, time.Minute), sem("x", bob, 2, time.Minute), 3},
		"SemaphoreAskedAsMutex":        {sem("x", alice, 3, time.Minute), acquire("x", bob, time.Minute), 3},
		"SemaphoreAskedShared":         {sem("x", alice, 3, time.Minute), shared("x", bob, time.Minute), 3},
		"MutexAskedAsSemaphore":        {acquire("x", alice, time.Minute), sem("x", bob, 3, time.Minute), 1},
		"SharedAskedAsSemaphore":       {shared("x", alice, time.Minute), sem("x", bob, 3, time.Minute), 1},
		"WaitingDoesNotQueue":          {sem("x", alice, 3, time.Minute), queued(sem("x", bob, 4, time.Minute), time.Minute), 3},
	} {
		t.Run(name, func(t *testing.T) {
			s := newState3(t)
			mustApply(t, s, at(0), c.held)
			r := applyAt(s, at(time.Second), c.ask)
			if !errors.Is(r.Err, ErrLimitMismatch) || r.Limit != c.want || r.Lock.HolderID != alice || s.Waiting("x") != 0 {
				t.Fatalf("%+v", r)
			}
		})
	}
	t.Run("FreeNameTakesTheNewLimit", func(t *testing.T) {
		s := newState3(t)
		l := mustApply(t, s, at(0), sem("x", alice, 3, time.Minute)).Lock
		mustApply(t, s, at(0), Release{Name: "x", LeaseID: l.LeaseID, HolderID: alice})
		if r := mustApply(t, s, at(0), sem("x", bob, 5, time.Minute)); r.Limit != 5 {
			t.Fatalf("%+v", r)
		}
	})
}

func TestPrims_PerSlotLeases(t *testing.T) {
	s := newState3(t)
	a := mustApply(t, s, at(0), sem("s", alice, 3, 10*time.Second)).Lock
	b := mustApply(t, s, at(0), sem("s", bob, 3, 20*time.Second)).Lock
	t.Run("RenewOneSlot", func(t *testing.T) {
		r := mustApply(t, s, at(time.Second), Renew{Name: "s", LeaseID: a.LeaseID, HolderID: alice, TTL: 30 * time.Second})
		if r.Lock.Token != a.Token || r.Lock.ExpiresAt != at(31*time.Second) {
			t.Fatalf("%+v", r.Lock)
		}
		if hs := holders(t, s, "s", at(time.Second)); hs[1].ExpiresAt != b.ExpiresAt {
			t.Fatalf("the other slot moved: %+v", hs[1])
		}
	})
	t.Run("WrongHolderOrLease", func(t *testing.T) {
		for _, c := range []Command{
			Renew{Name: "s", LeaseID: a.LeaseID, HolderID: bob, TTL: time.Second},
			Release{Name: "s", LeaseID: uuid.New(), HolderID: alice},
		} {
			if r := applyAt(s, at(time.Second), c); !errors.Is(r.Err, ErrLockNotFound) {
				t.Fatalf("%T: %+v", c, r)
			}
		}
	})
	t.Run("ExpiryFreesOneSlot", func(t *testing.T) {
		mustApply(t, s, b.FreeAt, ExpireDue{Limit: 10})
		hs := holders(t, s, "s", b.FreeAt)
		if len(hs) != 1 || hs[0].LeaseID != a.LeaseID {
			t.Fatalf("holders %+v", hs)
		}
	})
	t.Run("ReleaseLastSlotForgetsShape", func(t *testing.T) {
		mustApply(t, s, b.FreeAt, Release{Name: "s", LeaseID: a.LeaseID, HolderID: alice})
		if _, held := s.LockStatus("s", b.FreeAt); held || s.shaped("s") {
			t.Fatal("still held")
		}
	})
}

func TestPrims_SessionEndFreesEverySlot(t *testing.T) {
	for name, expire := range map[string]bool{"Deleted": false, "Expired": true} {
		t.Run(name, func(t *testing.T) {
			s := newState3(t)
			sid := uuid.New()
			sess := mustApply(t, s, at(0), CreateSession{ID: sid, UserID: alice, TTL: 10 * time.Second}).Session
			in := func(c Acquire) Acquire { c.SessionID = sid; return c }
			mustApply(t, s, at(0), in(sem("s", alice, 3, time.Minute)))
			mustApply(t, s, at(0), in(sem("s", alice, 3, time.Minute)))
			mustApply(t, s, at(0), in(shared("r", alice, time.Minute)))
			other := mustApply(t, s, at(0), sem("s", alice, 3, time.Minute)).Lock
			if _, n, _ := s.GetSession(sid, at(0)); n != 3 {
				t.Fatalf("session holds %d slots, want 3", n)
			}
			end := at(time.Second)
			if expire {
				end = sess.FreeAt
				mustApply(t, s, end, ExpireDue{Limit: 10})
			} else {
				mustApply(t, s, end, DeleteSession{ID: sid, UserID: alice})
			}
			hs := holders(t, s, "s", end)
			if len(hs) != 1 || hs[0].LeaseID != other.LeaseID || len(holders(t, s, "r", end)) != 0 {
				t.Fatalf("after the session ended: s %+v", hs)
			}
			if len(s.sessionLocks[sid]) != 0 {
				t.Fatalf("session index %v", s.sessionLocks[sid])
			}
		})
	}
}

func TestPrims_ReadWrite(t *testing.T) {
	t.Run("SharedTogetherExclusiveApart", func(t *testing.T) {
		s := newState3(t)
		mustApply(t, s, at(0), shared("rw", alice, time.Minute))
		mustApply(t, s, at(0), shared("rw", bob, time.Minute))
		if r := applyAt(s, at(0), acquire("rw", carol, time.Minute)); !errors.Is(r.Err, ErrLockHeld) {
			t.Fatalf("exclusive among shared: %+v", r)
		}
		st, _ := s.LockStatus("rw", at(0))
		if st.Mode != Shared || st.Limit != 1 || len(st.Holders) != 2 {
			t.Fatalf("%+v", st)
		}
	})
	t.Run("ExclusiveExcludesShared", func(t *testing.T) {
		s := newState3(t)
		mustApply(t, s, at(0), acquire("rw", alice, time.Minute))
		if r := applyAt(s, at(0), shared("rw", bob, time.Minute)); !errors.Is(r.Err, ErrLockHeld) || r.Lock.HolderID != alice {
			t.Fatalf("shared on exclusive: %+v", r)
		}
	})
	t.Run("WaitingExclusiveIsNotStarved", func(t *testing.T) {
		s := newState3(t)
		a := mustApply(t, s, at(0), shared("rw", alice, time.Minute)).Lock
		if r := mustApply(t, s, at(1*time.Second), queued(acquire("rw", carol, time.Minute), time.Minute)); r.Status != Queued {
			t.Fatalf("%+v", r)
		}
		// A later shared acquirer would fit the holders but must queue
		// behind the exclusive one, or fail when it does not wait.
		if r := mustApply(t, s, at(2*time.Second), queued(shared("rw", bob, time.Minute), time.Minute)); r.Status != Queued {
			t.Fatalf("later shared: %+v", r)
		}
		if r := applyAt(s, at(2*time.Second), shared("rw", bob, time.Minute)); !errors.Is(r.Err, ErrLockHeld) {
			t.Fatalf("later shared try-lock: %+v", r)
		}
		mustApply(t, s, at(3*time.Second), Release{Name: "rw", LeaseID: a.LeaseID, HolderID: alice})
		h := s.TakeHandoffs()
		if len(h) != 1 || h[0].HolderID != carol {
			t.Fatalf("handoffs %+v", h)
		}
		mustApply(t, s, at(4*time.Second), Release{Name: "rw", LeaseID: h[0].LeaseID, HolderID: carol})
		if h := s.TakeHandoffs(); len(h) != 1 || h[0].HolderID != bob {
			t.Fatalf("handoffs %+v", h)
		}
	})
	t.Run("SharedAtHeadGrantedTogether", func(t *testing.T) {
		s := newState3(t)
		x := mustApply(t, s, at(0), acquire("rw", alice, time.Minute)).Lock
		mustApply(t, s, at(0), queued(shared("rw", bob, time.Minute), time.Minute))
		mustApply(t, s, at(0), queued(shared("rw", carol, time.Minute), time.Minute))
		mustApply(t, s, at(0), queued(acquire("rw", bob, time.Minute), time.Minute))
		mustApply(t, s, at(0), queued(shared("rw", carol, time.Minute), time.Minute))
		mustApply(t, s, at(time.Second), Release{Name: "rw", LeaseID: x.LeaseID, HolderID: alice})
		h := s.TakeHandoffs()
		if len(h) != 2 || h[0].HolderID != bob || h[1].HolderID != carol || s.Waiting("rw") != 2 {
			t.Fatalf("handoffs %+v, waiting %d", h, s.Waiting("rw"))
		}
		if h[1].Token <= h[0].Token {
			t.Fatal("tokens do not increase")
		}
	})
	t.Run("SameHolderSharedExtends", func(t *testing.T) {
		s := newState3(t)
		a := mustApply(t, s, at(0), shared("rw", alice, 10*time.Second)).Lock
		r := mustApply(t, s, at(time.Second), shared("rw", alice, time.Minute))
		if r.Status != Extended || r.Lock.LeaseID != a.LeaseID || r.Lock.ExpiresAt != at(61*time.Second) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("NoUpgrade", func(t *testing.T) {
		s := newState3(t)
		mustApply(t, s, at(0), shared("rw", alice, time.Minute))
		if r := applyAt(s, at(0), queued(acquire("rw", alice, time.Minute), time.Minute)); !errors.Is(r.Err, ErrLockHeld) || s.Waiting("rw") != 0 {
			t.Fatalf("upgrade: %+v", r)
		}
	})
	t.Run("SharedWithLimitIsInvalid", func(t *testing.T) {
		c := shared("rw", alice, time.Minute)
		c.Limit = 2
		if Validate(c) == nil {
			t.Fatal("accepted")
		}
	})
}

func TestPrims_SnapshotRoundTrip(t *testing.T) {
	s := newState3(t)
	mustApply(t, s, at(0), sem("s", alice, 3, time.Minute))
	mustApply(t, s, at(0), sem("s", bob, 3, time.Minute))
	mustApply(t, s, at(0), shared("rw", alice, time.Minute))
	mustApply(t, s, at(0), shared("rw", bob, time.Minute))
	mustApply(t, s, at(0), queued(acquire("rw", carol, time.Minute), time.Minute))
	mustApply(t, s, at(0), queued(shared("rw", carol, time.Minute), time.Minute))
	before := snapshotBytes(t, s)
	r, err := Restore(bytes.NewReader(before))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, r), before) {
		t.Fatal("snapshot → restore is not the identity")
	}
	if st, _ := r.LockStatus("rw", at(0)); st.Mode != Shared || len(st.Holders) != 2 || st.Waiting != 2 {
		t.Fatalf("restored %+v", st)
	}
	// A corrupt snapshot claiming a second slot for a mutex is refused.
	m := newState3(t)
	mustApply(t, m, at(0), acquire("m", alice, time.Minute))
	mustApply(t, m, at(0), sem("s", alice, 2, time.Minute))
	mustApply(t, m, at(0), sem("s", bob, 2, time.Minute))
	delete(m.shapes, "s")
	if _, err := Restore(bytes.NewReader(snapshotBytes(t, m))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("restored two slots of a mutex: %v", err)
	}
}

func TestPrims_Refusal(t *testing.T) {
	s := newState3(t)
	mustApply(t, s, at(0), sem("s", alice, 2, time.Minute))
	mustApply(t, s, at(0), sem("s", bob, 2, time.Minute))
	mustApply(t, s, at(0), shared("rw", alice, time.Minute))
	mustApply(t, s, at(0), queued(acquire("rw", bob, time.Minute), time.Minute))
	lead := mustApply(t, s, at(0), Campaign{Name: "e", LeaseID: uuid.New(), HolderID: alice, TTL: time.Minute}).Lock
	for name, c := range map[string]struct {
		cmd       Command
		want      error // nil: only applying can tell
		wantLimit int
	}{
		"SemaphoreFull":           {sem("s", carol, 2, time.Second), ErrLockHeld, 2},
		"SemaphoreOtherLimit":     {sem("s", carol, 3, time.Second), ErrLimitMismatch, 2},
		"MutexOnSemaphore":        {acquire("s", carol, time.Second), ErrLimitMismatch, 2},
		"SharedBehindExclusive":   {shared("rw", carol, time.Second), ErrLockHeld, 1},
		"SharedOwnExtends":        {shared("rw", alice, time.Second), nil, 0},
		"UpgradeRefused":          {acquire("rw", alice, time.Second), ErrLockHeld, 1},
		"FreeSemaphoreGrants":     {sem("t", carol, 2, time.Second), nil, 0},
		"WaitingIsNotRefusable":   {queued(sem("s", carol, 2, time.Second), time.Second), nil, 0},
		"CampaignAgainstLeader":   {Campaign{Name: "e", LeaseID: uuid.New(), HolderID: bob, TTL: time.Second}, ErrLockHeld, 0},
		"CampaignByLeaderExtends": {Campaign{Name: "e", LeaseID: uuid.New(), HolderID: alice, TTL: time.Second}, nil, 0},
		"WaitingCampaign":         {Campaign{Name: "e", LeaseID: uuid.New(), HolderID: bob, TTL: time.Second, Wait: time.Second}, nil, 0},
		"ProclaimWithOtherLease":  {Proclaim{Name: "e", LeaseID: uuid.New(), HolderID: alice}, ErrLockNotFound, 0},
		"ProclaimByLeader":        {Proclaim{Name: "e", LeaseID: lead.LeaseID, HolderID: alice}, nil, 0},
		"ResignByOther":           {Resign{Name: "e", LeaseID: lead.LeaseID, HolderID: bob}, ErrLockNotFound, 0},
		"ResignOfElectionNotHeld": {Resign{Name: "none", LeaseID: lead.LeaseID, HolderID: alice}, ErrLockNotFound, 0},
		"ReleaseOneSlotOfOther":   {Release{Name: "s", LeaseID: lead.LeaseID, HolderID: alice}, ErrLockNotFound, 0},
	} {
		t.Run(name, func(t *testing.T) {
			res, ok := s.Refusal(c.cmd, at(time.Second))
			if ok != (c.want != nil) || !errors.Is(res.Err, c.want) || res.Limit != c.wantLimit {
				t.Fatalf("Refusal = %+v, %v; want %v (limit %d)", res, ok, c.want, c.wantLimit)
			}
			if ok {
				got := applyAt(mustRestoreT(t, s), at(time.Second), c.cmd)
				if !errors.Is(got.Err, c.want) || got.Limit != res.Limit || got.Lock.Token != res.Lock.Token {
					t.Fatalf("Apply = %+v, Refusal %+v", got, res)
				}
			}
		})
	}
}

func mustRestoreT(t *testing.T, s *State) *State {
	t.Helper()
	r, err := Restore(bytes.NewReader(snapshotBytes(t, s)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPrims_RestoresVersion6 restores testdata/snapshot-v6.bin, written
// by the code before the primitives (a session lock "a" with a waiter,
// a lock "b/c"): its locks are mutexes, its waiter a mutex waiter, and
// the state carries on under the new rules.
func TestPrims_RestoresVersion6(t *testing.T) {
	raw, err := os.ReadFile("testdata/snapshot-v6.bin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Restore(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	now := s.LastNow()
	st, ok := s.LockStatus("a", now)
	if !ok || st.Limit != 1 || st.Mode != Exclusive || len(st.Holders) != 1 || st.Waiting != 1 || *st.Holders[0].Metadata != "m" {
		t.Fatalf("a: %+v", st)
	}
	if _, ok := s.LockStatus("b/c", now); !ok || len(s.shapes) != 0 {
		t.Fatal("b/c lost, or a shape invented")
	}
	a := st.Holders[0]
	mustApply(t, s, now, Release{Name: "a", LeaseID: a.LeaseID, HolderID: a.HolderID})
	if h := s.TakeHandoffs(); len(h) != 1 || h[0].HolderID != bob || *h[0].Metadata != "w" {
		t.Fatalf("the v6 waiter was not handed the lock: %+v", h)
	}
	again, err := Restore(bytes.NewReader(snapshotBytes(t, s)))
	if err != nil || !bytes.Equal(snapshotBytes(t, again), snapshotBytes(t, s)) {
		t.Fatalf("v7 round trip: %v", err)
	}
}

func TestPrims_Listing(t *testing.T) {
	s := newState3(t)
	for _, name := range []string{"a", "b", "c"} {
		mustApply(t, s, at(0), sem(name, alice, 2, time.Minute))
		mustApply(t, s, at(0), sem(name, bob, 2, time.Minute))
		mustApply(t, s, at(0), Campaign{Name: "svc/" + name, LeaseID: uuid.New(), HolderID: carol, TTL: time.Minute, Value: name})
	}
	t.Run("LockStatusesPageByName", func(t *testing.T) {
		page, more := s.ListLockStatuses("", "", 2, at(0))
		if len(page) != 2 || !more || page[0].Name != "a" || page[1].Name != "b" || len(page[1].Holders) != 2 {
			t.Fatalf("first page %+v more %v", page, more)
		}
		page, more = s.ListLockStatuses("", "b", 2, at(0))
		if len(page) != 1 || more || page[0].Name != "c" || page[0].Limit != 2 {
			t.Fatalf("second page %+v more %v", page, more)
		}
	})
	t.Run("ElectionsPageByName", func(t *testing.T) {
		page, more := s.ListElections("svc/", "", 2, at(0))
		if len(page) != 2 || !more || page[0].Name != "svc/a" || page[1].Value != "b" {
			t.Fatalf("first page %+v more %v", page, more)
		}
		page, more = s.ListElections("svc/", "svc/b", 2, at(0))
		if len(page) != 1 || more || page[0].Name != "svc/c" || page[0].Term == 0 {
			t.Fatalf("second page %+v more %v", page, more)
		}
	})
}

func TestPrims_EndedSessionWaiterDoesNotBlock(t *testing.T) {
	s := newState3(t)
	sid := uuid.New()
	mustApply(t, s, at(0), CreateSession{ID: sid, UserID: bob, TTL: 30 * time.Second})
	mustApply(t, s, at(0), shared("rw", alice, time.Minute))
	ex := queued(acquire("rw", bob, time.Minute), time.Minute)
	ex.SessionID = sid
	mustApply(t, s, at(0), ex)
	mustApply(t, s, at(0), queued(shared("rw", carol, time.Minute), time.Minute))
	mustApply(t, s, at(time.Second), DeleteSession{ID: sid, UserID: bob})
	if h := s.TakeHandoffs(); len(h) != 1 || h[0].HolderID != carol || s.Waiting("rw") != 0 {
		t.Fatalf("handoffs %+v, waiting %d", h, s.Waiting("rw"))
	}
}
