package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// primWorld draws histories of the primitives: a few names acquired in
// every shape (mutex, shared, semaphores of 2 and 3 slots, so that shapes
// collide), elections, sessions and expiry. The FIFO model tells which
// waiters still wait from their deadlines and their sessions' last
// promised expiry or deletion.
type primWorld struct {
	world
	elections []string
	waiters   []waiterRef
	shapes    map[uuid.UUID]shape // every lease drawn for an acquire, and its shape
}

type waiterRef struct {
	name  string
	lease uuid.UUID
	user  uuid.UUID
}

var primShapes = []shape{plainShape, {limit: 1, mode: Shared}, {limit: 2}, {limit: 3}}

func newPrimWorld() *primWorld {
	return &primWorld{
		world:     world{names: []string{"a", "b"}, users: []uuid.UUID{alice, bob, carol}},
		elections: []string{"e"},
		shapes:    map[uuid.UUID]shape{},
	}
}

func (w *primWorld) draw(t *rapid.T) Command {
	name := rapid.SampledFrom(w.names).Draw(t, "name")
	user := rapid.SampledFrom(w.users).Draw(t, "user")
	ttl := time.Duration(rapid.IntRange(1, 8).Draw(t, "ttl")) * time.Second
	wait := time.Duration(rapid.SampledFrom([]int{0, 0, 3, 20}).Draw(t, "wait")) * time.Second
	switch rapid.IntRange(0, 12).Draw(t, "op") {
	case 0, 1, 2:
		sh := rapid.SampledFrom(primShapes).Draw(t, "shape")
		c := Acquire{Name: name, LeaseID: uuid.New(), HolderID: user, TTL: ttl, Wait: wait, Mode: sh.mode}
		if sh.limit > 1 || rapid.Bool().Draw(t, "explicit") {
			c.Limit = int(sh.limit)
		}
		c.SessionID = w.maybeSession(t)
		w.shapes[c.LeaseID] = sh
		return c
	case 3:
		return Renew{Name: name, LeaseID: w.lease(t), HolderID: user, TTL: ttl}
	case 4:
		return Release{Name: name, LeaseID: w.lease(t), HolderID: user}
	case 5:
		if len(w.waiters) > 0 {
			r := rapid.SampledFrom(w.waiters).Draw(t, "waiter")
			return CancelWait{Name: r.name, LeaseID: r.lease, HolderID: r.user}
		}
	case 6:
		id := uuid.New()
		w.sessions = append(w.sessions, id)
		return CreateSession{ID: id, UserID: user, TTL: time.Duration(rapid.IntRange(10, 12).Draw(t, "sttl")) * time.Second}
	case 7:
		return KeepAlive{ID: w.session(t), UserID: user}
	case 8:
		return DeleteSession{ID: w.session(t), UserID: user}
	case 9:
		c := Campaign{Name: w.elections[0], LeaseID: uuid.New(), HolderID: user, TTL: ttl, Wait: wait,
			Value: rapid.SampledFrom([]string{"", "v1", "v2"}).Draw(t, "value")}
		c.SessionID = w.maybeSession(t)
		w.shapes[c.LeaseID] = plainShape
		return c
	case 10:
		return Proclaim{Name: w.elections[0], LeaseID: w.lease(t), HolderID: user, Value: "p"}
	case 11:
		return Resign{Name: w.elections[0], LeaseID: w.lease(t), HolderID: user}
	}
	return ExpireDue{Limit: rapid.IntRange(1, 3).Draw(t, "limit")}
}

func (w *primWorld) drawBatches(t *rapid.T) []Batch {
	now := t0
	batches := make([]Batch, rapid.IntRange(1, 40).Draw(t, "batches"))
	for i := range batches {
		now += int64(time.Duration(rapid.IntRange(-500, 3000).Draw(t, "dt")) * time.Millisecond)
		b := Batch{Now: now, Skew: skew}
		for j := rapid.IntRange(1, 4).Draw(t, "cmds"); j > 0; j-- {
			b.Commands = append(b.Commands, w.draw(t))
		}
		batches[i] = b
	}
	return batches
}

// note records what a result tells the drawer: leases to renew and
// release, waiters to cancel.
func (w *primWorld) note(cmd Command, r Result) {
	w.noteLease(r)
	if r.Status != Queued {
		return
	}
	switch c := cmd.(type) {
	case Acquire:
		w.waiters = append(w.waiters, waiterRef{c.Name, c.LeaseID, c.HolderID})
	case Campaign:
		w.waiters = append(w.waiters, waiterRef{ElectionKey(c.Name), c.LeaseID, c.HolderID})
	}
}

func primSetup() Batch {
	return Batch{Now: t0, Commands: []Command{SyncStaticUsers{Users: []StaticUser{
		{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("A")}},
		{ID: bob, Login: "bob", Hashes: []TokenHash{HashToken("B")}},
		{ID: carol, Login: "carol", Hashes: []TokenHash{HashToken("C")}}}}}}
}

// primModel follows the holders of every name through the event stream
// and checks the primitives' guarantees on every grant.
type primModel struct {
	shapes   map[uuid.UUID]shape        // lease → the shape it asked for
	tokens   map[uint64]shape           // token → its grant's shape
	sessions map[uint64]uuid.UUID       // token → its grant\'s session
	holders  map[string]map[uint64]Lock // name → token → slot
	pending  map[string][]pendingWaiter // name → queued acquires, in arrival order
	// sessionExpires and sessionEnded: what each session last promised,
	// and whether it was deleted.
	sessionExpires map[uuid.UUID]int64
	sessionEnded   map[uuid.UUID]bool
	arrivals       map[uuid.UUID]int // lease → arrival order
	lastToken      uint64
	lastSeq        uint64
	seq            int
}

type pendingWaiter struct {
	lease    uuid.UUID
	session  uuid.UUID
	arrival  int
	deadline int64
}

func newPrimModel(shapes map[uuid.UUID]shape) *primModel {
	return &primModel{shapes: shapes, tokens: map[uint64]shape{}, sessions: map[uint64]uuid.UUID{}, holders: map[string]map[uint64]Lock{},
		pending: map[string][]pendingWaiter{}, arrivals: map[uuid.UUID]int{},
		sessionExpires: map[uuid.UUID]int64{}, sessionEnded: map[uuid.UUID]bool{}}
}

// observe takes one command's result, the grants it handed to waiters
// and the events it emitted.
func (m *primModel) observe(s *State, now int64, cmd Command, r Result, handoffs []Lock) error {
	m.seq++
	name, lease, session, wait, held := requestOf(cmd)
	m.arrivals[lease] = m.seq
	before := m.holders[name]
	if r.Err == nil && r.Status == Queued {
		m.pending[name] = append(m.pending[name], pendingWaiter{lease, session, m.seq, now + int64(wait)})
	}
	m.observeSession(cmd, r)
	if c, ok := cmd.(CancelWait); ok {
		m.unqueue(c.Name, c.LeaseID)
	}
	// Waiters handed the name during a command were granted before the
	// command's own grant, which is always its last step.
	for _, l := range handoffs {
		if err := m.checkFIFO(now, l, false, nil); err != nil {
			return fmt.Errorf("handoff: %w", err)
		}
		m.granted(l)
	}
	if r.Err == nil && r.Status == Granted && lease != uuid.Nil {
		if err := m.checkFIFO(now, r.Lock, held, before); err != nil {
			return err
		}
		m.granted(r.Lock)
	}
	return m.followEvents(s)
}

func (m *primModel) granted(l Lock) {
	m.tokens[l.Token] = m.shapes[l.LeaseID]
	m.sessions[l.Token] = l.SessionID
	m.unqueue(l.Name, l.LeaseID)
}

// requestOf is the name, lease and session an acquire or campaign asked
// with, its wait, and whether it may replace the caller's own lapsed
// lease.
func requestOf(cmd Command) (name string, lease, session uuid.UUID, wait time.Duration, own bool) {
	switch c := cmd.(type) {
	case Acquire:
		return c.Name, c.LeaseID, c.SessionID, c.Wait, c.shape() == plainShape
	case Campaign:
		return ElectionKey(c.Name), c.LeaseID, c.SessionID, c.Wait, true
	}
	return "", uuid.Nil, uuid.Nil, 0, false
}

// observeSession follows what sessions were last promised: a waiter of a
// session is skipped from its expiry or its deletion on.
func (m *primModel) observeSession(cmd Command, r Result) {
	switch c := cmd.(type) {
	case CreateSession, KeepAlive:
		if r.Err == nil {
			m.sessionExpires[r.Session.ID] = r.Session.ExpiresAt
		}
	case DeleteSession:
		if r.Err == nil {
			m.sessionEnded[c.ID] = true
		}
	}
}

// waits reports whether p can still be granted at now.
func (m *primModel) waits(p pendingWaiter, now int64) bool {
	if now >= p.deadline {
		return false
	}
	return p.session == uuid.Nil || !m.sessionEnded[p.session] && now < m.sessionExpires[p.session]
}

func (m *primModel) unqueue(name string, lease uuid.UUID) {
	q := m.pending[name]
	for i, p := range q {
		if p.lease == lease {
			m.pending[name] = append(q[:i:i], q[i+1:]...)
			return
		}
	}
}

// checkFIFO: nobody is granted a name while an acquire that queued for it
// earlier still waits (before its deadline), but for a mutex holder
// replacing its own lapsed lease, which nobody else could have had.
func (m *primModel) checkFIFO(now int64, l Lock, mayReplaceOwn bool, before map[uint64]Lock) error {
	if mayReplaceOwn {
		for _, h := range before {
			if h.HolderID == l.HolderID && h.SessionID == l.SessionID {
				return nil
			}
		}
	}
	for _, p := range m.pending[l.Name] {
		if p.lease != l.LeaseID && p.arrival < m.arrivals[l.LeaseID] && m.waits(p, now) {
			return fmt.Errorf("%s granted to %s (%v) while %s (%v), queued earlier, still waits",
				l.Name, l.LeaseID, m.shapes[l.LeaseID], p.lease, m.shapes[p.lease])
		}
	}
	return nil
}

// followEvents applies the new events to the holders and checks each
// acquisition: tokens strictly increase; a name's holders share one limit,
// are never more than it unless shared, never mix modes.
func (m *primModel) followEvents(s *State) error {
	events, _ := s.EventsAfter(m.lastSeq, 1<<20)
	for _, ev := range events {
		m.lastSeq = ev.Seq
		hs := m.holders[ev.Lock]
		switch ev.Kind {
		case EventAcquired:
			if ev.Token <= m.lastToken {
				return fmt.Errorf("token %d after %d", ev.Token, m.lastToken)
			}
			m.lastToken = ev.Token
			if hs == nil {
				hs = map[uint64]Lock{}
				m.holders[ev.Lock] = hs
			}
			hs[ev.Token] = Lock{Name: ev.Lock, HolderID: ev.HolderID, SessionID: m.sessions[ev.Token], Token: ev.Token}
			if err := m.checkHolders(ev.Lock); err != nil {
				return err
			}
		case EventReleased, EventExpired:
			delete(hs, ev.Token)
		}
	}
	return m.sameHolders(s)
}

func (m *primModel) checkHolders(name string) error {
	var first shape
	n := 0
	for tok := range m.holders[name] {
		sh := m.tokens[tok]
		if n == 0 {
			first = sh
		}
		n++
		if sh != first {
			return fmt.Errorf("%s held in shapes %v and %v together", name, first, sh)
		}
	}
	if first.mode == Exclusive && n > int(first.limit) {
		return fmt.Errorf("%s has %d holders, limit %d", name, n, first.limit)
	}
	return nil
}

// sameHolders: the state stores exactly the slots the events granted
// and did not end.
func (m *primModel) sameHolders(s *State) error {
	stored := 0
	var err error
	s.locks.Ascend(func(l *Lock) bool {
		stored++
		if _, ok := m.holders[l.Name][l.Token]; !ok {
			err = fmt.Errorf("slot %s/%d stored without its acquired event", l.Name, l.Token)
		}
		return err == nil
	})
	want := 0
	for _, hs := range m.holders {
		want += len(hs)
	}
	if err == nil && stored != want {
		err = fmt.Errorf("%d slots stored, events say %d", stored, want)
	}
	return err
}

// checkPrimIndexes recounts the session index and checks shapes and
// elections against the slots, as a restore would.
func (s *State) checkPrimIndexes() error {
	want := map[uuid.UUID]map[string]int32{}
	s.locks.Ascend(func(l *Lock) bool {
		if l.SessionID != uuid.Nil {
			if want[l.SessionID] == nil {
				want[l.SessionID] = map[string]int32{}
			}
			want[l.SessionID][l.Name]++
		}
		return true
	})
	if fmt.Sprint(want) != fmt.Sprint(s.sessionLocks) {
		return fmt.Errorf("session index %v, slots say %v", s.sessionLocks, want)
	}
	d := &decoder{}
	s.checkShapes(d)
	return d.err
}

func TestPrims_Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := newPrimWorld()
		batches := w.drawBatches(t)
		s := New()
		setup := primSetup()
		s.Apply(setup)
		replay := []Batch{setup}
		m := newPrimModel(w.shapes)
		cut := rapid.IntRange(0, len(batches)-1).Draw(t, "cut")
		var restored *State
		for i, b := range batches {
			if i == cut {
				restored = mustRestore(t, s)
			}
			for j, c := range b.Commands {
				one := Batch{Now: b.Now, Skew: b.Skew, Commands: []Command{c}}
				r := s.Apply(one)[0]
				if restored != nil {
					if err := samePrimResult(r, restored.Apply(one)[0]); err != nil {
						t.Fatalf("batch %d cmd %d after restore: %v", i, j, err)
					}
					restored.TakeHandoffs()
				}
				w.note(c, r)
				if err := m.observe(s, s.LastNow(), c, r, s.TakeHandoffs()); err != nil {
					t.Fatalf("batch %d cmd %d %T %+v: %v", i, j, c, c, err)
				}
			}
			replay = append(replay, b)
			if err := firstErr(s.checkIndexes(), s.checkPrimIndexes()); err != nil {
				t.Fatalf("after batch %d: %v", i, err)
			}
		}
		checkReplayAndRestore(t, s, restored, replay)
	})
}

// TestPrims_RefusalMatchesApply is TestState_RefusalMatchesApply over the
// primitives' histories, probing try-locks of every shape.
func TestPrims_RefusalMatchesApply(t *testing.T) {
	answered := map[string]int{}
	rapid.Check(t, func(t *rapid.T) {
		w := newPrimWorld()
		s := New()
		s.Apply(primSetup())
		for _, b := range w.drawBatches(t) {
			for i, r := range s.Apply(b) {
				w.note(b.Commands[i], r)
			}
			s.TakeHandoffs()
		}
		now := s.LastNow() + int64(time.Duration(rapid.IntRange(0, 9000).Draw(t, "later"))*time.Millisecond)
		s.Apply(Batch{Now: now, Skew: skew})
		for i := rapid.IntRange(1, 6).Draw(t, "probes"); i > 0; i-- {
			cmd := w.probe(t)
			switch rapid.IntRange(0, 3).Draw(t, "pkind") {
			case 1:
				cmd = Campaign{Name: "e", LeaseID: uuid.New(), HolderID: rapid.SampledFrom(w.users).Draw(t, "cuser"),
					SessionID: w.maybeSession(t), TTL: time.Second, Value: "v"}
			case 2:
				cmd = Proclaim{Name: "e", LeaseID: w.lease(t), HolderID: rapid.SampledFrom(w.users).Draw(t, "cuser"), Value: "p"}
			case 3:
				cmd = Resign{Name: "e", LeaseID: w.lease(t), HolderID: rapid.SampledFrom(w.users).Draw(t, "cuser")}
			}
			if rapid.Bool().Draw(t, "shaped") {
				sh := rapid.SampledFrom(primShapes).Draw(t, "pshape")
				cmd = Acquire{Name: rapid.SampledFrom(w.names).Draw(t, "pname2"), LeaseID: uuid.New(),
					HolderID: rapid.SampledFrom(w.users).Draw(t, "puser2"), SessionID: w.maybeSession(t),
					TTL: time.Second, Limit: int(sh.limit), Mode: sh.mode}
			}
			if err := checkRefusal(t, s, now, cmd); err != nil {
				answered[fmt.Sprintf("%T %v", cmd, err)]++
			}
		}
	})
	for _, path := range []string{
		"state.Acquire " + ErrLockHeld.Error(), "state.Acquire " + ErrLimitMismatch.Error(),
		"state.Renew " + ErrLockNotFound.Error(), "state.Release " + ErrLockNotFound.Error(),
		"state.Campaign " + ErrLockHeld.Error(), "state.Proclaim " + ErrLockNotFound.Error(),
		"state.Resign " + ErrLockNotFound.Error(),
	} {
		if answered[path] == 0 {
			t.Errorf("no probe was answered %q by Refusal: that path is untested (answered: %v)", path, answered)
		}
	}
}

// samePrimResult is sameResults comparing metadata (election values) by
// value, not by pointer, and the limit.
func samePrimResult(a, b Result) error {
	if a.Lock.Metadata != nil && b.Lock.Metadata != nil && *a.Lock.Metadata == *b.Lock.Metadata {
		b.Lock.Metadata = a.Lock.Metadata
	}
	if a.Limit != b.Limit {
		return fmt.Errorf("limit %d vs %d", a.Limit, b.Limit)
	}
	return sameResults([]Result{a}, []Result{b})
}
