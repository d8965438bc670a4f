package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/server"
)

// startWithGitHubTLS is startWithGitHub serving HTTPS. Its public URL
// stays http://, so only the TLS of the request can make cookies Secure.
func startWithGitHubTLS(t *testing.T) *ghEnv {
	t.Helper()
	e := &ghEnv{gh: newFakeGitHub(t), dir: t.TempDir()}
	gh := e.signInConfig(t, nil)
	srv := apitest.StartTLSServer(t, func(c *server.Config) { c.SignIn = gh })
	e.srv, e.c = srv.Server, srv.Client(t) // its transport also reaches the fake GitHub, over plain HTTP
	return e
}

// TestSignIn_CookieSecureOverTLS: a browser that reached the server over
// HTTPS gets the sign-in cookie (and the cookie that clears it) marked
// Secure, so it never sends it over plain HTTP; the public URL being
// http:// does not weaken that. Over plain HTTP it cannot be Secure (the
// browser would drop it).
func TestSignIn_CookieSecureOverTLS(t *testing.T) {
	for name, e := range map[string]*ghEnv{"TLS": startWithGitHubTLS(t), "plain": startWithGitHub(t, nil)} {
		t.Run(name, func(t *testing.T) {
			want := name == "TLS"
			q, cookie := e.begin(t, octocat)
			if cookie.Secure != want || !cookie.HttpOnly {
				t.Fatalf("state cookie over %s: Secure %v HttpOnly %v", name, cookie.Secure, cookie.HttpOnly)
			}
			r := e.callback(t, q, cookie, "")
			wantStatus(t, r, http.StatusOK)
			cleared := (&http.Response{Header: r.Header}).Cookies()
			if len(cleared) != 1 || cleared[0].MaxAge >= 0 || cleared[0].Secure != want {
				t.Fatalf("clearing cookie over %s: %+v", name, cleared)
			}
		})
	}
}
