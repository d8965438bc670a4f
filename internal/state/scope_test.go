package state

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

func scoped(name string, access Access, ttl time.Duration, prefixes ...string) CreateToken {
	return CreateToken{Hash: HashToken(name), UserID: alice, Source: SourceCreated, Name: name,
		Access: access, Prefixes: prefixes, TTL: ttl}
}

func TestState_ScopedTokens(t *testing.T) {
	t.Run("CreateRecordsScopeAndExpiry", func(t *testing.T) {
		s := newState(t)
		r := mustApply(t, s, t0, scoped("ci", AccessRead, time.Hour, "acme/deploy/"))
		if r.Token.ExpiresAt != at(time.Hour) || r.Token.Access != AccessRead || r.Token.Name != "ci" {
			t.Fatalf("result %+v", r.Token)
		}
		tok, u, ok := s.TokenFor(HashToken("ci"), at(time.Hour-1))
		if !ok || u.ID != alice || !reflect.DeepEqual(tok.Prefixes, []string{"acme/deploy/"}) {
			t.Fatalf("TokenFor: %+v %+v %v", tok, u, ok)
		}
		if _, _, ok := s.TokenFor(HashToken("ci"), at(time.Hour)); ok {
			t.Fatal("expired token still authenticates")
		}
	})
	t.Run("AllowsOnlyWithinPrefixesAndAccess", func(t *testing.T) {
		w := Token{Access: AccessWrite, Prefixes: []string{"acme/deploy/", "x"}}
		r := Token{Access: AccessRead, Prefixes: []string{"acme/deploy/"}}
		for _, c := range []struct {
			tok   Token
			name  string
			write bool
			want  bool
		}{
			{w, "acme/deploy/a", true, true}, {w, "xyz", true, true}, {w, "acme/other", false, false},
			{w, "acme/deploy", false, false}, {r, "acme/deploy/a", false, true}, {r, "acme/deploy/a", true, false},
			{Token{}, "anything", true, true},
		} {
			if got := c.tok.Allows(c.name, c.write); got != c.want {
				t.Errorf("%+v Allows(%q, %v) = %v", c.tok, c.name, c.write, got)
			}
		}
		if w.Covers("acme/") || !w.Covers("acme/deploy/sub") || w.Covers("") {
			t.Error("Covers")
		}
	})
	t.Run("InvalidScopesRefused", func(t *testing.T) {
		for name, c := range map[string]CreateToken{
			"NoPrefix":       scoped("a", AccessWrite, 0),
			"EmptyPrefix":    scoped("a", AccessWrite, 0, ""),
			"BadByte":        scoped("a", AccessWrite, 0, "a b"),
			"FullWithPrefix": scoped("a", AccessFull, 0, "a/"),
			"BadAccess":      scoped("a", 7, 0, "a/"),
			"NegativeTTL":    scoped("a", AccessRead, -time.Second, "a/"),
			"SlideNoTTL":     {Hash: HashToken("s"), UserID: alice, Source: SourceSignIn, Slide: true},
			"BadSource":      {Hash: HashToken("s"), UserID: alice, Source: SourceStatic},
			"LongName":       scoped(string(make([]byte, MaxTokenNameLen+1)), AccessRead, 0, "a/"),
		} {
			if err := Validate(c); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("%s: %v", name, err)
			}
		}
	})
	t.Run("UnknownUserAndCap", func(t *testing.T) {
		s := newState(t)
		c := scoped("x", AccessRead, 0, "a/")
		c.UserID = uuid.MustParse("00000000-0000-4000-8000-0000000000cc")
		if r := applyAt(s, t0, c); !errors.Is(r.Err, ErrUnknownUser) {
			t.Fatalf("unknown user: %+v", r)
		}
		for i := range MaxTokensPerUser - 1 { // alice has her static token
			mustApply(t, s, t0, scoped("t"+string(rune('A'+i)), AccessRead, 0, "a/"))
		}
		if r := applyAt(s, t0, scoped("one-more", AccessRead, 0, "a/")); !errors.Is(r.Err, ErrTooManyTokens) {
			t.Fatalf("51st token: %+v", r)
		}
		if _, ok := s.UserByToken(HashToken("A")); !ok {
			t.Fatal("creating tokens evicted the static one")
		}
	})
	t.Run("TouchRecordsUseAndSlides", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, CreateToken{Hash: HashToken("gh"), UserID: bob, Login: "bob", Source: SourceSignIn, TTL: time.Hour, Slide: true})
		mustApply(t, s, t0, scoped("ci", AccessWrite, time.Hour, "a/"))
		r := mustApply(t, s, at(30*time.Minute), TouchTokens{Hashes: []TokenHash{HashToken("gh"), HashToken("ci"), HashToken("gone")}})
		if r.Count != 2 {
			t.Fatalf("touched %d", r.Count)
		}
		gh, _, _ := s.TokenFor(HashToken("gh"), at(30*time.Minute))
		ci, _, _ := s.TokenFor(HashToken("ci"), at(30*time.Minute))
		if gh.LastUsed != at(30*time.Minute) || gh.ExpiresAt != at(90*time.Minute) {
			t.Fatalf("sliding token %+v", gh)
		}
		if ci.LastUsed != at(30*time.Minute) || ci.ExpiresAt != at(time.Hour) {
			t.Fatalf("fixed token moved: %+v", ci)
		}
	})
	t.Run("ExpiredTokensSweptByTokenCommands", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, scoped("short", AccessRead, time.Minute, "a/"))
		mustApply(t, s, at(2*time.Minute), TouchTokens{Hashes: []TokenHash{HashToken("A")}})
		if _, ok := s.TokenByID(Token{Hash: HashToken("short")}.ID()); ok {
			t.Fatal("expired token kept")
		}
	})
	t.Run("RotationKeepsScope", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, scoped("ci", AccessRead, time.Hour, "a/"))
		mustApply(t, s, at(time.Minute), RotateToken{Old: HashToken("ci"), New: HashToken("ci2")})
		tok, _, ok := s.TokenFor(HashToken("ci2"), at(time.Minute))
		if !ok || !tok.Scoped() || tok.Access != AccessRead || tok.ExpiresAt != at(time.Hour) {
			t.Fatalf("rotated %+v %v", tok, ok)
		}
	})
}

// TestSnapshot_ScopedTokensRoundTrip: scope, expiry, slide and last use
// survive a snapshot, byte for byte.
func TestSnapshot_ScopedTokensRoundTrip(t *testing.T) {
	s := newState(t)
	mustApply(t, s, t0, scoped("ci", AccessRead, time.Hour, "acme/deploy/", "b/"))
	mustApply(t, s, t0, CreateToken{Hash: HashToken("gh"), UserID: bob, Login: "bob", Source: SourceSignIn, TTL: time.Hour, Slide: true})
	mustApply(t, s, at(time.Minute), TouchTokens{Hashes: []TokenHash{HashToken("gh")}})
	b := snapshotBytes(t, s)
	r, err := Restore(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, r), b) {
		t.Fatal("restored state snapshots differently")
	}
	for _, h := range []string{"ci", "gh"} {
		want, _, _ := s.TokenFor(HashToken(h), at(time.Minute))
		got, _, ok := r.TokenFor(HashToken(h), at(time.Minute))
		if !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %+v want %+v", h, got, want)
		}
	}
}

// TestSnapshot_ReadsVersion5: a snapshot written by the previous release
// (testdata/snapshot-v5.bin, made by its code: static, sign-in
// and rotated tokens and a lock) restores, its tokens unscoped and never
// expiring, and snapshots again as version 6.
func TestSnapshot_ReadsVersion5(t *testing.T) {
	b, err := os.ReadFile("testdata/snapshot-v5.bin")
	if err != nil {
		t.Fatal(err)
	}
	if b[len(snapshotMagic)] != 5 {
		t.Fatalf("testdata is version %d", b[len(snapshotMagic)])
	}
	s, err := Restore(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"A", "B2", "gh"} {
		tok, _, ok := s.TokenFor(HashToken(h), MaxTime)
		if !ok || tok.Scoped() || tok.ExpiresAt != 0 {
			t.Fatalf("token %s: %+v %v", h, tok, ok)
		}
	}
	if _, ok := s.GetLock("acme/deploy/x", at(3*time.Second)); !ok {
		t.Fatal("lock lost")
	}
	again, err := Restore(bytes.NewReader(snapshotBytes(t, s)))
	if err != nil || !bytes.Equal(snapshotBytes(t, again), snapshotBytes(t, s)) {
		t.Fatalf("v6 of a v5 state does not round-trip: %v", err)
	}
}
