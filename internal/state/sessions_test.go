package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func newSession(t *testing.T, s *State, user uuid.UUID, ttl time.Duration) Session {
	t.Helper()
	return mustApply(t, s, t0, CreateSession{ID: uuid.New(), UserID: user, TTL: ttl}).Session
}

func TestState_Sessions(t *testing.T) {
	t.Run("CreateSetsExpiry", func(t *testing.T) {
		s := newState(t)
		sess := newSession(t, s, alice, time.Minute)
		if sess.ExpiresAt != at(time.Minute) || sess.FreeAt != at(time.Minute+skew) || !sess.ActiveAt(t0) {
			t.Fatalf("got %+v", sess)
		}
		if r := applyAt(s, t0, CreateSession{ID: uuid.New(), UserID: uuid.New(), TTL: time.Minute}); !errors.Is(r.Err, ErrUnknownUser) {
			t.Fatalf("unknown user: %+v", r)
		}
	})
	t.Run("KeepAliveExtendsByOriginalTTL", func(t *testing.T) {
		s := newState(t)
		sess := newSession(t, s, alice, 20*time.Second)
		r := mustApply(t, s, at(15*time.Second), KeepAlive{ID: sess.ID, UserID: alice})
		if r.Session.ExpiresAt != at(35*time.Second) {
			t.Fatalf("expires %v", time.Duration(r.Session.ExpiresAt-t0))
		}
	})
	t.Run("KeepAliveAfterExpiryIsGone", func(t *testing.T) {
		s := newState(t)
		sess := newSession(t, s, alice, 20*time.Second)
		if r := applyAt(s, at(20*time.Second), KeepAlive{ID: sess.ID, UserID: alice}); !errors.Is(r.Err, ErrSessionExpired) {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("OtherUsersSessionIsNotFound", func(t *testing.T) {
		s := newState(t)
		sess := newSession(t, s, alice, 20*time.Second)
		for _, cmd := range []Command{KeepAlive{ID: sess.ID, UserID: bob}, DeleteSession{ID: sess.ID, UserID: bob}} {
			if r := applyAt(s, t0, cmd); !errors.Is(r.Err, ErrSessionNotFound) {
				t.Fatalf("%T: %+v", cmd, r)
			}
		}
	})
	t.Run("DeleteReleasesEveryLockAndIsIdempotent", func(t *testing.T) {
		s := newState(t)
		sess := newSession(t, s, alice, time.Minute)
		for _, n := range []string{"a", "b", "c"} {
			c := acquire(n, alice, time.Hour)
			c.SessionID = sess.ID
			mustApply(t, s, t0, c)
		}
		mustApply(t, s, t0, acquire("mine", alice, time.Hour))
		if _, n, _ := s.GetSession(sess.ID, t0); n != 3 {
			t.Fatalf("lock count %d", n)
		}
		mustApply(t, s, at(time.Second), DeleteSession{ID: sess.ID, UserID: alice})
		got, n, ok := s.GetSession(sess.ID, at(time.Second))
		if !ok || got.ActiveAt(at(time.Second)) || n != 0 || s.LockCount() != 1 || got.Expired {
			t.Fatalf("after delete: %+v count %d locks %d", got, n, s.LockCount())
		}
		mustApply(t, s, at(2*time.Second), DeleteSession{ID: sess.ID, UserID: alice})
		if r := applyAt(s, at(2*time.Second), KeepAlive{ID: sess.ID, UserID: alice}); !errors.Is(r.Err, ErrSessionExpired) {
			t.Fatalf("keepalive on ended session: %+v", r)
		}
	})
	t.Run("ExpiryReleasesLocksAfterSkew", func(t *testing.T) {
		s := newState(t)
		sess := newSession(t, s, alice, 10*time.Second)
		c := acquire("a", alice, time.Hour)
		c.SessionID = sess.ID
		mustApply(t, s, t0, c)
		mustApply(t, s, at(10*time.Second), ExpireDue{Limit: 100})
		if _, held := s.GetLock("a", at(10*time.Second)); !held {
			t.Fatal("released inside the skew margin")
		}
		if r := mustApply(t, s, at(11*time.Second), ExpireDue{Limit: 100}); r.Count != 1 {
			t.Fatalf("expired %d", r.Count)
		}
		got, _, _ := s.GetSession(sess.ID, at(11*time.Second))
		if _, held := s.GetLock("a", at(11*time.Second)); held || !got.Expired || !got.Ended() {
			t.Fatalf("lock still held or session %+v", got)
		}
	})
	t.Run("SessionLockKeepsItsOwnTTL", func(t *testing.T) {
		s := newState(t)
		sess := newSession(t, s, alice, time.Minute)
		c := acquire("a", alice, 5*time.Second)
		c.SessionID = sess.ID
		mustApply(t, s, t0, c)
		mustApply(t, s, at(6*time.Second), ExpireDue{Limit: 100})
		if _, n, _ := s.GetSession(sess.ID, at(6*time.Second)); n != 0 || s.LockCount() != 0 {
			t.Fatalf("count %d locks %d", n, s.LockCount())
		}
	})
	t.Run("TombstoneKeptForAnHour", func(t *testing.T) {
		s := newState(t)
		sess := newSession(t, s, alice, 10*time.Second)
		mustApply(t, s, at(time.Second), DeleteSession{ID: sess.ID, UserID: alice})
		mustApply(t, s, at(time.Second+TombstoneTTL-1), ExpireDue{Limit: 100})
		if _, _, ok := s.GetSession(sess.ID, at(time.Hour)); !ok {
			t.Fatal("tombstone purged early")
		}
		mustApply(t, s, at(time.Second+TombstoneTTL), ExpireDue{Limit: 100})
		if _, _, ok := s.GetSession(sess.ID, at(2*time.Hour)); ok {
			t.Fatal("tombstone kept")
		}
		if _, ok := s.NextDeadline(); ok {
			t.Fatal("deadline index not empty")
		}
	})
}

func TestState_Users(t *testing.T) {
	t.Run("SyncReplacesStaticTokensOnly", func(t *testing.T) {
		s := New()
		mustApply(t, s, t0, BootstrapAdmin{ID: bob, Login: "admin", Hash: HashToken("boot")})
		mustApply(t, s, t0, SyncStaticUsers{Users: []StaticUser{{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("A1")}}}})
		mustApply(t, s, t0, SyncStaticUsers{Users: []StaticUser{{ID: alice, Login: "alice2", Hashes: []TokenHash{HashToken("A2")}}}})
		if _, ok := s.UserByToken(HashToken("A1")); ok {
			t.Error("removed static token still valid")
		}
		if u, ok := s.UserByToken(HashToken("A2")); !ok || u.ID != alice || u.Login != "alice2" {
			t.Errorf("A2: %+v %v", u, ok)
		}
		if u, ok := s.UserByToken(HashToken("boot")); !ok || u.Login != "admin" {
			t.Errorf("bootstrap token lost: %+v %v", u, ok)
		}
	})
	t.Run("BootstrapOnlyWithoutTokens", func(t *testing.T) {
		s := New()
		if r := mustApply(t, s, t0, BootstrapAdmin{ID: alice, Login: "admin", Hash: HashToken("1")}); r.Count != 1 {
			t.Fatal("not created")
		}
		if r := mustApply(t, s, t0, BootstrapAdmin{ID: bob, Login: "admin", Hash: HashToken("2")}); r.Count != 0 || s.UserCount() != 1 {
			t.Fatal("second bootstrap created a user")
		}
		if _, ok := s.UserByToken(HashToken("2")); ok {
			t.Fatal("second bootstrap token valid")
		}
		mustApply(t, s, t0, SyncStaticUsers{Users: []StaticUser{{ID: bob, Login: "bob", Hashes: []TokenHash{HashToken("B")}}}})
		if r := mustApply(t, s, t0, BootstrapAdmin{ID: alice, Login: "admin", Hash: HashToken("3")}); r.Count != 0 {
			t.Fatal("bootstrap with static tokens present")
		}
	})
}
