package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestState_Tokens(t *testing.T) {
	gh := uuid.MustParse("00000000-0000-4000-8000-0000000000f1")
	t.Run("IssueCreatesThenRenames", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, IssueToken{UserID: gh, Login: "octocat", Hash: HashToken("s1")})
		mustApply(t, s, at(time.Second), IssueToken{UserID: gh, Login: "octodog", Hash: HashToken("s2")})
		for _, tok := range []string{"s1", "s2"} {
			if u, ok := s.UserByToken(HashToken(tok)); !ok || u.ID != gh || u.Login != "octodog" {
				t.Fatalf("%s: %+v %v", tok, u, ok)
			}
		}
		if got := s.Tokens(gh); len(got) != 2 || got[0].Hash != HashToken("s1") || got[1].Source != SourceSignIn {
			t.Fatalf("tokens %+v", got)
		}
	})
	t.Run("OldestBeyondTheCapIsRevoked", func(t *testing.T) {
		s := newState(t)
		for i := range MaxTokensPerUser + 2 {
			mustApply(t, s, at(time.Duration(i)*time.Second), IssueToken{UserID: gh, Login: "octocat", Hash: HashToken("tok-" + string(rune('A'+i)))})
		}
		if n := len(s.Tokens(gh)); n != MaxTokensPerUser {
			t.Fatalf("%d tokens", n)
		}
		if _, ok := s.UserByToken(HashToken("tok-A")); ok {
			t.Fatal("oldest token survived")
		}
	})
	t.Run("ReissueAdminAddsABootstrapToken", func(t *testing.T) {
		s := New()
		admin := uuid.MustParse("00000000-0000-4000-8000-0000000000ad")
		if r := applyAt(s, t0, ReissueAdmin{ID: admin, Hash: HashToken("new")}); !errors.Is(r.Err, ErrUnknownUser) {
			t.Fatalf("reissue with no admin: %+v", r)
		}
		mustApply(t, s, t0, BootstrapAdmin{ID: admin, Login: "admin", Hash: HashToken("lost")})
		mustApply(t, s, at(time.Second), ReissueAdmin{ID: admin, Hash: HashToken("new")})
		for _, tok := range []string{"lost", "new"} {
			if u, ok := s.UserByToken(HashToken(tok)); !ok || u.ID != admin || u.Login != "admin" {
				t.Fatalf("%s: %+v %v", tok, u, ok)
			}
		}
		if got := s.Tokens(admin); len(got) != 2 || got[1].Source != SourceBootstrap {
			t.Fatalf("tokens %+v", got)
		}
		if r := applyAt(s, t0, ReissueAdmin{ID: admin, Hash: HashToken("new")}); !errors.Is(r.Err, ErrInvalidCommand) {
			t.Fatalf("reissuing a taken hash: %+v", r)
		}
	})
	t.Run("RotateReplacesAtOnce", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, RotateToken{Old: HashToken("A"), New: HashToken("A2")})
		if _, ok := s.UserByToken(HashToken("A")); ok {
			t.Fatal("old token still valid")
		}
		if u, ok := s.UserByToken(HashToken("A2")); !ok || u.ID != alice {
			t.Fatalf("new token: %+v %v", u, ok)
		}
		if r := applyAt(s, t0, RotateToken{Old: HashToken("A"), New: HashToken("A3")}); !errors.Is(r.Err, ErrTokenNotFound) {
			t.Fatalf("rotating a gone token: %+v", r)
		}
	})
	t.Run("RotatedStaticTokenStaysGoneAfterSync", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, RotateToken{Old: HashToken("A"), New: HashToken("A2")})
		mustApply(t, s, t0, SyncStaticUsers{Users: []StaticUser{{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("A")}}}})
		if _, ok := s.UserByToken(HashToken("A")); ok {
			t.Fatal("configuration brought a rotated token back")
		}
		if _, ok := s.UserByToken(HashToken("A2")); !ok {
			t.Fatal("sync dropped the rotated-to token")
		}
	})
	t.Run("RevokeOnlyOwnUnlessAdmin", func(t *testing.T) {
		s := newState(t)
		if r := applyAt(s, t0, RevokeToken{Hash: HashToken("A"), UserID: bob}); !errors.Is(r.Err, ErrTokenNotFound) {
			t.Fatalf("bob revoked alice's token: %+v", r)
		}
		mustApply(t, s, t0, RevokeToken{Hash: HashToken("A")})
		if _, ok := s.UserByToken(HashToken("A")); ok {
			t.Fatal("revoked token valid")
		}
		if tok, ok := s.TokenByID(Token{Hash: HashToken("B")}.ID()); !ok || tok.UserID != bob {
			t.Fatalf("TokenByID: %+v %v", tok, ok)
		}
	})
}

// TestState_RetireUsers: retiring a user takes every token it has,
// whatever issued it (a static token and the runtime token its rotation
// created), keeps the user (its locks refer to it), leaves others alone,
// and does not revoke the static token: configuring it again works.
func TestState_RetireUsers(t *testing.T) {
	s := New()
	mustApply(t, s, t0, SyncStaticUsers{Users: []StaticUser{
		{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("A")}},
		{ID: bob, Login: "bob", Hashes: []TokenHash{HashToken("B"), HashToken("B2")}},
	}})
	mustApply(t, s, at(time.Second), RotateToken{Old: HashToken("B"), New: HashToken("B-rotated")})
	if r := mustApply(t, s, at(2*time.Second), RetireUsers{IDs: []uuid.UUID{bob}}); r.Count != 2 {
		t.Fatalf("retired %d tokens, want 2 (B2 and the rotated one)", r.Count)
	}
	for _, tok := range []string{"B", "B2", "B-rotated"} {
		if _, ok := s.UserByToken(HashToken(tok)); ok {
			t.Errorf("bob's token %s survived", tok)
		}
	}
	if _, ok := s.UserByToken(HashToken("A")); !ok {
		t.Error("alice lost her token")
	}
	if s.Login(bob) != "bob" {
		t.Error("the retired user record is gone")
	}
	mustApply(t, s, at(3*time.Second), SyncStaticUsers{Users: []StaticUser{{ID: bob, Login: "bob", Hashes: []TokenHash{HashToken("B2")}}}})
	if _, ok := s.UserByToken(HashToken("B2")); !ok {
		t.Error("configuring bob's token again did not bring it back")
	}
}
