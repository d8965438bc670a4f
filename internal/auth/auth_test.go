package auth

import (
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/state"
)

func TestParseTokens(t *testing.T) {
	users, err := ParseTokens("alice:" + a1 + ", bob:" + b1 + "\nalice:" + a2 + "\n# comment\n\n  carol : " + c1 + " ")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 3 || users[0].Login != "alice" || len(users[0].Hashes) != 2 || users[2].Login != "carol" {
		t.Fatalf("got %+v", users)
	}
	if users[0].Hashes[1] != state.HashToken(a2) || users[2].Hashes[0] != state.HashToken(c1) {
		t.Fatal("tokens not hashed as given")
	}
	if users[0].ID != StaticUserID("alice") || users[0].ID == users[1].ID {
		t.Fatal("user IDs are not stable per login")
	}
	tok := a1
	for _, bad := range []string{"alice", "alice:", ":" + tok, "al ice:" + tok, "a/b:" + tok, "alice:to ken" + tok, "alice:" + tok + ",bob:" + tok} {
		if _, err := ParseTokens(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Test tokens: MinStaticTokenLen characters and more.
const (
	a1 = "alice-token-one-0123"
	a2 = "alice-token-two-0123"
	b1 = "bob-token-one-012345"
	c1 = "carol-token-one-0123"
)

// TestParseTokens_ShortTokenNamesTheUser: a static token below 16
// characters refuses the configuration, and the message names the user
// but never echoes the token (it would end up in logs).
func TestParseTokens_ShortTokenNamesTheUser(t *testing.T) {
	const short = "hunter2-secret!" // 15 characters
	_, err := ParseTokens("alice:" + a1 + ",bob:" + short)
	if err == nil {
		t.Fatal("a 15-character token was accepted")
	}
	if msg := err.Error(); !strings.Contains(msg, `"bob"`) || !strings.Contains(msg, "16") || strings.Contains(msg, short) {
		t.Fatalf("message %q: want the user and the minimum, never the token", msg)
	}
	if _, err := ParseTokens("bob:" + short + "x"); err != nil {
		t.Fatalf("a 16-character token was refused: %v", err)
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
