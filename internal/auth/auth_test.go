package auth

import (
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/state"
)

func TestParseTokens(t *testing.T) {
	users, err := ParseTokens("alice:A1, bob:B1\nalice:A2\n# comment\n\n  carol : C1 ")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 || users[0].Login != "alice" || len(users[0].Hashes) != 2 || users[2].Login != "carol" {
		t.Fatalf("got %+v", users)
	}
	if users[0].Hashes[1] != state.HashToken("A2") || users[2].Hashes[0] != state.HashToken("C1") {
		t.Fatal("tokens not hashed as given")
	}
	if users[0].ID != StaticUserID("alice") || users[0].ID == users[1].ID {
		t.Fatal("user IDs are not stable per login")
	}
	for _, bad := range []string{"alice", "alice:", ":tok", "al ice:tok", "a/b:tok", "alice:to ken", "alice:T,bob:T"} {
		if _, err := ParseTokens(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for header, want := range map[string]string{"Bearer abc": "abc", "bearer abc": "abc", "BEARER  abc": "abc"} {
		if got, ok := BearerToken(header); !ok || got != want {
			t.Errorf("%q: %q %v", header, got, ok)
		}
	}
	for _, bad := range []string{"", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearerabc", "Bearer " + strings.Repeat("x", 513)} {
		if _, ok := BearerToken(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNewToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || !strings.HasPrefix(a, "octo_") || len(a) < 40 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if _, ok := BearerToken("Bearer " + a); !ok {
		t.Fatal("a new token is not a valid bearer token")
	}
}
