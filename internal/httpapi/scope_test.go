package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

type tokenResp struct {
	Token      string     `json:"token"`
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Source     string     `json:"source"`
	Access     string     `json:"access"`
	Prefixes   []string   `json:"prefixes"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// createToken makes a scoped token of alice's and returns it.
func createToken(t *testing.T, c *apitest.Client, access string, ttl int, prefixes ...string) tokenResp {
	t.Helper()
	b := body{"name": "ci-" + access, "prefixes": prefixes, "access": access}
	if ttl > 0 {
		b["ttl_seconds"] = ttl
	}
	r := c.Do("POST", "/auth/tokens", alice, b)
	wantStatus(t, r, http.StatusCreated)
	var tok tokenResp
	r.JSON(t, &tok)
	return tok
}

func TestScopedTokens_CreateAndList(t *testing.T) {
	_, c := apitest.Start(t)
	before := time.Now()
	tok := createToken(t, c, "read", 3600, "acme/deploy/")
	if !strings.HasPrefix(tok.Token, "octo_") || tok.Access != "read" || tok.Source != "created" ||
		tok.ExpiresAt == nil || tok.ExpiresAt.Before(before.Add(time.Hour-time.Second)) || tok.ExpiresAt.After(time.Now().Add(time.Hour)) {
		t.Fatalf("created %+v", tok)
	}
	var list struct{ Tokens []tokenResp }
	c.Do("GET", "/auth/tokens", alice, nil).JSON(t, &list)
	var found bool
	for _, l := range list.Tokens {
		if l.ID == tok.ID {
			found = l.Name == "ci-read" && l.Access == "read" && len(l.Prefixes) == 1 && l.Prefixes[0] == "acme/deploy/" &&
				l.ExpiresAt != nil && l.ExpiresAt.Equal(*tok.ExpiresAt) && l.Token == ""
		} else if l.Access != "full" || len(l.Prefixes) != 0 || l.ExpiresAt != nil {
			t.Errorf("unscoped token listed as %+v", l)
		}
	}
	if !found {
		t.Fatalf("list %+v lacks %s as created", list.Tokens, tok.ID)
	}
	for name, b := range map[string]string{
		"NoAccess":    `{"name":"x","prefixes":["a/"]}`,
		"BadAccess":   `{"name":"x","prefixes":["a/"],"access":"admin"}`,
		"NoPrefixes":  `{"name":"x","prefixes":[],"access":"read"}`,
		"EmptyPrefix": `{"name":"x","prefixes":[""],"access":"read"}`,
		"BadPrefix":   `{"name":"x","prefixes":["a b"],"access":"read"}`,
		"NoName":      `{"prefixes":["a/"],"access":"read"}`,
		"ZeroTTL":     `{"name":"x","prefixes":["a/"],"access":"read","ttl_seconds":0}`,
		"Unknown":     `{"name":"x","prefixes":["a/"],"access":"read","admin":true}`,
	} {
		if r := c.Raw("POST", "/auth/tokens", alice, []byte(b)); r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

// TestScopedTokens_RefusedOutsideScope attacks from a scoped token: every
// request outside its prefixes or access is 403 token_scope and changes
// nothing; inside, it works.
func TestScopedTokens_RefusedOutsideScope(t *testing.T) {
	_, c := apitest.Start(t)
	w := createToken(t, c, "write", 0, "acme/deploy/").Token
	r := createToken(t, c, "read", 0, "acme/deploy/").Token
	held := mustAcquire(t, c, "acme/other/x", alice, 60)

	refused := func(what, method, path, token string, b any) {
		t.Helper()
		resp := c.Do(method, path, token, b)
		if resp.Status != http.StatusForbidden || !strings.Contains(string(resp.Body), `"token_scope"`) {
			t.Errorf("%s: %d %s", what, resp.Status, resp.Body)
		}
	}
	refused("acquire outside", "POST", "/locks/acme/other/y/acquire", w, body{"ttl_seconds": 60})
	refused("acquire a look-alike", "POST", "/locks/acme/deploy/acquire", w, body{"ttl_seconds": 60})
	refused("release another's outside", "POST", "/locks/acme/other/x/release", w, body{"lease_id": held.LeaseID})
	refused("renew outside", "POST", "/locks/acme/other/x/renew", w, body{"lease_id": held.LeaseID, "ttl_seconds": 60})
	refused("status outside", "GET", "/locks/acme/other/x", r, nil)
	refused("write with read", "POST", "/locks/acme/deploy/a/acquire", r, body{"ttl_seconds": 60})
	refused("list everything", "GET", "/locks", r, nil)
	refused("list broader", "GET", "/locks?prefix=acme/", r, nil)
	refused("session with read", "POST", "/sessions", r, body{})
	refused("webhooks", "GET", "/webhooks", w, nil)
	refused("create a token", "POST", "/auth/tokens", w, body{"name": "x", "prefixes": []string{"acme/"}, "access": "write"})
	refused("list tokens", "GET", "/auth/tokens", w, nil)
	refused("rotate", "POST", "/auth/token/rotate", w, nil)
	refused("cluster", "GET", "/cluster", r, nil)

	var st lockResp
	c.Do("GET", "/locks/acme/other/x", alice, nil).JSON(t, &st)
	if st.Status != "held" || st.LeaseID != held.LeaseID {
		t.Fatalf("the refused requests changed the lock: %+v", st)
	}
	wantStatus(t, c.Do("GET", "/locks/acme/other/y", alice, nil), http.StatusOK)
	wantStatus(t, c.Do("GET", "/locks/acme/deploy/a", alice, nil), http.StatusOK)
	var list struct{ Locks []lockResp }
	c.Do("GET", "/locks", alice, nil).JSON(t, &list)
	if len(list.Locks) != 1 {
		t.Fatalf("refused acquires took locks: %+v", list.Locks)
	}

	// Inside its scope a write token does everything a lock needs.
	sess := newSession(t, c, w, 30)
	_, l := acquire(t, c, "acme/deploy/a", w, body{"ttl_seconds": 60, "session_id": sess.SessionID})
	wantStatus(t, c.Do("POST", "/locks/acme/deploy/a/renew", w, body{"lease_id": l.LeaseID, "ttl_seconds": 60}), http.StatusOK)
	wantStatus(t, c.Do("GET", "/locks/acme/deploy/a", r, nil), http.StatusOK)
	wantStatus(t, c.Do("GET", "/locks?prefix=acme/deploy/", r, nil), http.StatusOK)
	wantStatus(t, c.Do("GET", "/sessions/"+sess.SessionID, r, nil), http.StatusOK)
	refused("end a session with read", "DELETE", "/sessions/"+sess.SessionID, r, nil)
	wantStatus(t, c.Do("POST", "/locks/acme/deploy/a/release", w, body{"lease_id": l.LeaseID}), http.StatusOK)
	wantStatus(t, c.Do("DELETE", "/sessions/"+sess.SessionID, w, nil), http.StatusNoContent)

	// A session is the user's: one holding a lock outside the prefixes
	// cannot be ended (releasing that lock) with the scoped token.
	other := newSession(t, c, alice, 30)
	_, prod := acquire(t, c, "prod/db", alice, body{"ttl_seconds": 60, "session_id": other.SessionID})
	refused("end a session holding a lock outside", "DELETE", "/sessions/"+other.SessionID, w, nil)
	c.Do("GET", "/locks/prod/db", alice, nil).JSON(t, &st)
	if st.Status != "held" || st.LeaseID != prod.LeaseID {
		t.Fatalf("the refused delete released prod/db: %+v", st)
	}
}

// TestScopedTokens_EventsFiltered: a scoped token's stream carries only
// events within its prefixes, whatever prefix it asks for.
func TestScopedTokens_EventsFiltered(t *testing.T) {
	_, c := apitest.Start(t)
	r := createToken(t, c, "read", 0, "acme/deploy/").Token
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp := c.Stream(ctx, "/events", r)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	events := make(chan sseEvent, 100)
	go func() {
		defer resp.Body.Close()
		readEvents(resp.Body, events)
	}()
	mustAcquire(t, c, "acme/other/x", alice, 60)
	mustAcquire(t, c, "acme/deploy/y", alice, 60)
	if e := next(t, events); !strings.Contains(e.data, `"acme/deploy/y"`) {
		t.Fatalf("first event %+v: not the one within the prefix", e)
	}
}

func TestScopedTokens_ExpiredRefused(t *testing.T) {
	_, c := apitest.Start(t)
	tok := createToken(t, c, "write", 1, "acme/")
	var status int
	poll.Until(t, 5*time.Second, "the token to expire", func() bool {
		status = c.Do("GET", "/locks/acme/x", tok.Token, nil).Status
		return status != http.StatusOK
	})
	wantError(t, c.Do("GET", "/locks/acme/x", tok.Token, nil), http.StatusUnauthorized, "unauthorized")
	var list struct{ Tokens []tokenResp }
	c.Do("GET", "/auth/tokens", alice, nil).JSON(t, &list)
	for _, l := range list.Tokens {
		if l.ID == tok.ID {
			t.Fatalf("expired token listed: %+v", l)
		}
	}
}
