package state

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// world draws commands that hit the interesting cases often: a few names,
// two users, sessions and leases the model has seen, short TTLs.
type world struct {
	names    []string
	users    []uuid.UUID
	sessions []uuid.UUID
	leases   []uuid.UUID
	hooks    []uuid.UUID
	tokens   []TokenHash
}

func (w *world) draw(t *rapid.T) Command {
	name := rapid.SampledFrom(w.names).Draw(t, "name")
	user := rapid.SampledFrom(w.users).Draw(t, "user")
	ttl := time.Duration(rapid.IntRange(1, 8).Draw(t, "ttl")) * time.Second
	switch rapid.IntRange(0, 11).Draw(t, "op") {
	case 0, 1:
		wait := time.Duration(rapid.SampledFrom([]int{0, 0, 3, 20}).Draw(t, "wait")) * time.Second
		// The quota comes from the TTL drawn, not a draw of its own, so
		// the recorded failure files keep replaying the same commands.
		quota := map[time.Duration]int{7 * time.Second: 1, 8 * time.Second: 2}[ttl]
		return Acquire{Name: name, LeaseID: uuid.New(), HolderID: user, SessionID: w.maybeSession(t), TTL: ttl, Wait: wait, MaxLocks: quota}
	case 2:
		return Renew{Name: name, LeaseID: w.lease(t), HolderID: user, TTL: ttl}
	case 3:
		return Release{Name: name, LeaseID: w.lease(t), HolderID: user}
	case 4:
		id := uuid.New()
		w.sessions = append(w.sessions, id)
		return CreateSession{ID: id, UserID: user, TTL: time.Duration(rapid.IntRange(10, 12).Draw(t, "sttl")) * time.Second}
	case 5:
		return KeepAlive{ID: w.session(t), UserID: user}
	case 6:
		return DeleteSession{ID: w.session(t), UserID: user}
	case 7:
		// Drawn from what was drawn already, so recorded failure files
		// keep replaying the same draws.
		if ttl%(2*time.Second) != 0 {
			h := HashToken(uuid.NewString())
			w.tokens = append(w.tokens, h)
			return CreateToken{Hash: h, UserID: user, Source: SourceCreated, Name: name, Access: AccessRead,
				Prefixes: []string{name}, TTL: ttl, Slide: ttl > 4*time.Second}
		}
		return TouchTokens{Hashes: append([]TokenHash{HashToken("A"), HashToken("B")}, w.tokens...)}
	case 8:
		login := rapid.SampledFrom([]string{"a", "b"}).Draw(t, "login")
		// Accounts and namespaces come from what was drawn already, so
		// recorded failure files keep replaying the same draws.
		switch ttl {
		case 6 * time.Second:
			r := RecordGitHubAccount{UserID: user, Login: login, GitHubID: int64(user[0]%2 + 1), Orgs: []Org{{ID: 9, Login: "acme"}, {ID: 3, Login: "org-" + login}}}
			if login == "a" {
				r.Grant = "grant-" + name
			} else {
				r.ClearGrant = true
			}
			return r
		case 7 * time.Second:
			return BindNamespace{Namespace: login, Account: AccountGitHubUser(int64(user[0]%2 + 1))}
		case 8 * time.Second:
			return ReleaseNamespace{Namespace: login}
		}
		return IssueToken{UserID: user, Login: login, Hash: HashToken(uuid.NewString())}
	case 9:
		old := rapid.SampledFrom([]string{"A", "B", "A2"}).Draw(t, "old")
		return RotateToken{Old: HashToken(old), New: HashToken(old + "2")}
	case 10:
		id := uuid.New()
		w.hooks = append(w.hooks, id)
		return CreateWebhook{ID: id, UserID: user, URL: "https://example.com/h", Events: AllEvents, Pattern: "a/**"}
	case 11:
		if len(w.hooks) > 0 {
			return AckWebhooks{Acks: []WebhookAck{{ID: rapid.SampledFrom(w.hooks).Draw(t, "hook"), Seq: uint64(rapid.IntRange(0, 50).Draw(t, "seq"))}}}
		}
	}
	return ExpireDue{Limit: rapid.IntRange(1, 3).Draw(t, "limit")}
}

func (w *world) maybeSession(t *rapid.T) uuid.UUID {
	if len(w.sessions) == 0 || rapid.Bool().Draw(t, "nosession") {
		return uuid.Nil
	}
	return w.session(t)
}

func (w *world) session(t *rapid.T) uuid.UUID {
	if len(w.sessions) == 0 {
		return uuid.New()
	}
	return rapid.SampledFrom(w.sessions).Draw(t, "session")
}

func (w *world) lease(t *rapid.T) uuid.UUID {
	if len(w.leases) == 0 {
		return uuid.New()
	}
	return rapid.SampledFrom(w.leases).Draw(t, "lease")
}

func (w *world) drawBatches(t *rapid.T) []Batch {
	now := t0
	n := rapid.IntRange(1, 60).Draw(t, "batches")
	batches := make([]Batch, n)
	for i := range batches {
		// Mostly forward, sometimes backwards: the state must clamp.
		now += int64(time.Duration(rapid.IntRange(-500, 4000).Draw(t, "dt")) * time.Millisecond)
		b := Batch{Now: now, Skew: skew}
		for j := rapid.IntRange(1, 4).Draw(t, "cmds"); j > 0; j-- {
			b.Commands = append(b.Commands, w.draw(t))
		}
		batches[i] = b
	}
	return batches
}

// promise is what a holder was last told: it holds name until expires.
type promise struct {
	holder, session uuid.UUID
	expires         int64
}

// safetyModel checks, from the results alone, the two guarantees clients
// rely on: nobody is granted a name before the previous holder's last
// promised expiry (lock or session, whichever ends first) plus the skew
// margin, unless that holder gave it up; fencing tokens strictly increase.
type safetyModel struct {
	locks     map[string]promise
	sessions  map[uuid.UUID]int64 // session → expiry last promised
	lastToken uint64
}

func (m *safetyModel) observe(now int64, cmd Command, r Result) error {
	switch c := cmd.(type) {
	case Acquire:
		return m.observeAcquire(now, c, r)
	case Renew:
		if r.Err == nil {
			m.locks[c.Name] = promise{c.HolderID, r.Lock.SessionID, r.Lock.ExpiresAt}
		}
	case Release:
		if r.Err == nil {
			delete(m.locks, c.Name)
		}
	case CreateSession, KeepAlive:
		if r.Err == nil {
			m.sessions[r.Session.ID] = r.Session.ExpiresAt
		}
	case DeleteSession:
		if r.Err == nil {
			m.dropSession(c.ID)
		}
	}
	return nil
}

func (m *safetyModel) observeAcquire(now int64, c Acquire, r Result) error {
	if r.Err != nil || r.Status == Queued {
		return nil
	}
	if r.Status == Granted {
		return m.observeGrant(now, r.Lock)
	}
	m.locks[c.Name] = promise{c.HolderID, c.SessionID, r.Lock.ExpiresAt}
	return nil
}

// observeGrant checks a new grant, answered or handed to a waiter.
func (m *safetyModel) observeGrant(now int64, l Lock) error {
	if l.Token <= m.lastToken {
		return fmt.Errorf("token %d after %d", l.Token, m.lastToken)
	}
	m.lastToken = l.Token
	if p, ok := m.locks[l.Name]; ok && (p.holder != l.HolderID || p.session != l.SessionID) {
		if bound := m.bound(p); now < bound {
			return fmt.Errorf("%s granted at %v before previous holder's bound %v", l.Name, now-t0, bound-t0)
		}
	}
	m.locks[l.Name] = promise{l.HolderID, l.SessionID, l.ExpiresAt}
	return nil
}

func (m *safetyModel) bound(p promise) int64 {
	end := p.expires
	if exp, ok := m.sessions[p.session]; ok && p.session != uuid.Nil {
		end = min(end, exp)
	}
	return end + int64(skew)
}

func (m *safetyModel) dropSession(id uuid.UUID) {
	for name, p := range m.locks {
		if p.session == id {
			delete(m.locks, name)
		}
	}
}

func TestState_Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := &world{names: []string{"a", "a/b", "b"}, users: []uuid.UUID{alice, bob}}
		batches := w.drawBatches(t)
		s := New()
		setup := Batch{Now: t0, Commands: []Command{SyncStaticUsers{Users: []StaticUser{
			{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("A")}},
			{ID: bob, Login: "bob", Hashes: []TokenHash{HashToken("B")}}}}}}
		s.Apply(setup)
		replay := []Batch{setup}
		m := &safetyModel{locks: map[string]promise{}, sessions: map[uuid.UUID]int64{}}
		cut := rapid.IntRange(0, len(batches)-1).Draw(t, "cut")
		var restored *State
		for i, b := range batches {
			if i == cut {
				restored = mustRestore(t, s)
			}
			// Commands are applied one at a time here, so that the model
			// sees each one's result and the grants it handed to waiters in
			// order; the replay below applies whole batches, which must come
			// to the same state.
			for j, c := range b.Commands {
				one := Batch{Now: b.Now, Skew: b.Skew, Commands: []Command{c}}
				r := s.Apply(one)[0]
				if restored != nil {
					if err := sameResults([]Result{r}, restored.Apply(one)); err != nil {
						t.Fatalf("batch %d cmd %d after restore: %v", i, j, err)
					}
					restored.TakeHandoffs()
				}
				w.noteLease(r)
				if err := m.observe(max(s.LastNow(), b.Now), c, r); err != nil {
					t.Fatalf("batch %d cmd %d %T: %v", i, j, c, err)
				}
				for _, l := range s.TakeHandoffs() {
					if err := m.observeGrant(max(s.LastNow(), b.Now), l); err != nil {
						t.Fatalf("batch %d cmd %d handed %s to a waiter: %v", i, j, l.Name, err)
					}
				}
			}
			replay = append(replay, b)
			if err := s.checkIndexes(); err != nil {
				t.Fatalf("after batch %d: %v", i, err)
			}
		}
		checkReplayAndRestore(t, s, restored, replay)
	})
}

func (w *world) noteLease(r Result) {
	if r.Err == nil && r.Status == Granted {
		w.leases = append(w.leases, r.Lock.LeaseID)
	}
}

func mustRestore(t *rapid.T, s *State) *State {
	var buf bytes.Buffer
	if _, err := s.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sameResults(a, b []Result) error {
	for i := range a {
		if !errors.Is(a[i].Err, b[i].Err) || a[i].Lock != b[i].Lock || a[i].Session != b[i].Session ||
			a[i].Count != b[i].Count || a[i].Status != b[i].Status {
			return fmt.Errorf("result %d: %+v vs %+v", i, a[i], b[i])
		}
	}
	return nil
}

func checkReplayAndRestore(t *rapid.T, s, restored *State, replay []Batch) {
	want := snapshotBytes(t, s)
	again := New()
	for _, b := range replay {
		again.Apply(b)
	}
	if !bytes.Equal(snapshotBytes(t, again), want) {
		t.Fatal("replaying the same log gave a different state")
	}
	if !bytes.Equal(snapshotBytes(t, restored), want) {
		t.Fatal("restore then apply diverged from the original")
	}
	if !bytes.Equal(snapshotBytes(t, mustRestore(t, s)), want) {
		t.Fatal("snapshot→restore is not the identity")
	}
}

// checkIndexes verifies the derived indexes against the records: each
// index holds exactly the stored records.
func (s *State) checkIndexes() error {
	if s.lockDeadlines.Len() != s.locks.Len() || s.sessionDeadlines.Len() != s.sessions.Len() {
		return fmt.Errorf("deadline indexes have %d/%d entries for %d locks and %d sessions",
			s.lockDeadlines.Len(), s.sessionDeadlines.Len(), s.locks.Len(), s.sessions.Len())
	}
	if err := s.checkCounts(); err != nil {
		return err
	}
	var err error
	s.locks.Ascend(func(l *Lock) bool {
		if got, ok := s.lockDeadlines.Get(l); !ok || got != l {
			err = fmt.Errorf("lock %s missing from the deadline index", l.Name)
		}
		return err == nil
	})
	s.sessions.Ascend(func(sess *Session) bool {
		if got, ok := s.sessionDeadlines.Get(sess); !ok || got != sess {
			err = fmt.Errorf("session %s missing from the deadline index", sess.ID)
		}
		return err == nil
	})
	return err
}

// checkCounts recounts the quota tallies by scanning the records.
func (s *State) checkCounts() error {
	want := newCounts()
	s.locks.Ascend(func(l *Lock) bool { want.addLock(l.HolderID, 1); return true })
	s.sessions.Ascend(func(sess *Session) bool {
		if !sess.Ended() {
			want.addSession(sess.UserID, 1)
		}
		return true
	})
	for _, q := range s.queues {
		want.waiters += q.order.Len()
	}
	if !reflect.DeepEqual(want, s.counts) {
		return fmt.Errorf("counts %+v, records say %+v", s.counts, want)
	}
	return nil
}
