package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
)

// listedToken polls alice's or a signed-in user's token list until the
// token with id satisfies cond, and returns it.
func listedToken(t *testing.T, list func() []tokenResp, id, what string, cond func(tokenResp) bool) tokenResp {
	t.Helper()
	var got tokenResp
	poll.Until(t, 5*time.Second, what, func() bool {
		for _, l := range list() {
			if l.ID == id && cond(l) {
				got = l
				return true
			}
		}
		return false
	})
	return got
}

// TestTokens_LastUseRecorded: a token's first use is recorded (in the
// background, so the list shows it shortly after), and the hundred uses
// that follow within the hour do not move it: no log write per request.
func TestTokens_LastUseRecorded(t *testing.T) {
	_, c := apitest.Start(t)
	tok := createToken(t, c, "read", 0, "acme/")
	list := func() []tokenResp {
		var l struct{ Tokens []tokenResp }
		c.Do("GET", "/auth/tokens", alice, nil).JSON(t, &l)
		return l.Tokens
	}
	if l := listedToken(t, list, tok.ID, "the new token listed", func(tokenResp) bool { return true }); l.LastUsedAt != nil {
		t.Fatalf("unused token has a last use: %+v", l)
	}
	wantStatus(t, c.Do("GET", "/locks/acme/x", tok.Token, nil), http.StatusOK)
	first := listedToken(t, list, tok.ID, "the use recorded", func(l tokenResp) bool { return l.LastUsedAt != nil })
	for range 100 {
		wantStatus(t, c.Do("GET", "/locks/acme/x", tok.Token, nil), http.StatusOK)
	}
	// A second recording would be proposed by one of those requests, in
	// the background; a write through the log after them gives it time
	// to land (not a proof, but a regression would show most runs).
	mustAcquire(t, c, "z", alice, 5)
	if again := listedToken(t, list, tok.ID, "the token listed", func(tokenResp) bool { return true }); !again.LastUsedAt.Equal(*first.LastUsedAt) {
		t.Fatalf("last use moved within the hour: %v then %v", first.LastUsedAt, again.LastUsedAt)
	}
}

// TestGitHub_TokenTTLSlides: a sign-in token expires --token-ttl after
// its last recorded use.
func TestGitHub_TokenTTLSlides(t *testing.T) {
	e := startWithGitHub(t, nil, func(c *server.Config) { c.TokenTTL = 2 * time.Hour })
	s := e.signIn(t, octocat)
	list := func() []tokenResp {
		var l struct{ Tokens []tokenResp }
		e.c.Do("GET", "/auth/tokens", s.Token, nil).JSON(t, &l)
		return l.Tokens
	}
	var id string
	for _, l := range list() {
		id = l.ID
	}
	l := listedToken(t, list, id, "the sign-in's use recorded", func(l tokenResp) bool { return l.LastUsedAt != nil })
	if l.Source != "github" || l.ExpiresAt == nil || !l.ExpiresAt.Equal(l.LastUsedAt.Add(2*time.Hour)) {
		t.Fatalf("sign-in token %+v: want expiry two hours after its last use", l)
	}
}
