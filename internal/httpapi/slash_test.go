package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
)

// TestTrailingSlash_NamesTheRoute: a route's path with a trailing slash is
// a 404 naming the route, never a 405 whose Allow lists another route's
// methods, and never a different lock or session.
func TestTrailingSlash_NamesTheRoute(t *testing.T) {
	_, c := apitest.Start(t)
	l := mustAcquire(t, c, "a/b", alice, 60)
	sess := newSession(t, c, alice, 60)
	hook := "/webhooks/550e8400-e29b-41d4-a716-446655440000"
	cases := []struct{ method, path, route string }{
		{"POST", "/locks/x/acquire/", "/locks/x/acquire"},
		{"POST", "/locks/a/b/renew/", "/locks/a/b/renew"},
		{"POST", "/locks/a/b/release//", "/locks/a/b/release"},
		{"GET", "/locks/a/b/", "/locks/a/b"},
		{"GET", "/locks/", "/locks"},
		{"POST", "/locks/x/", "/locks/x"},
		{"GET", "/webhooks/", "/webhooks"},
		{"POST", "/webhooks/", "/webhooks"},
		{"DELETE", hook + "/", hook},
		{"POST", "/sessions/", "/sessions"},
		{"GET", "/sessions/" + sess.SessionID + "/", "/sessions/" + sess.SessionID},
		{"DELETE", "/sessions/" + sess.SessionID + "/", "/sessions/" + sess.SessionID},
		{"POST", "/sessions/" + sess.SessionID + "/keepalive/", "/sessions/" + sess.SessionID + "/keepalive"},
		{"GET", "/health/", "/health"},
		{"GET", "/ready/", "/ready"},
		{"GET", "/metrics/", "/metrics"},
		{"GET", "/openapi.yaml/", "/openapi.yaml"},
		{"GET", "/events/", "/events"},
		{"GET", "/cluster/", "/cluster"},
		{"GET", "/cluster/snapshot/", "/cluster/snapshot"},
		{"GET", "/auth/tokens/", "/auth/tokens"},
		{"POST", "/auth/token/rotate/", "/auth/token/rotate"},
		{"GET", "/auth/github/", "/auth/github"},
		{"GET", "/auth/github/callback/?code=x", "/auth/github/callback"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := c.Raw(tc.method, tc.path, alice, nil)
			if r.Header.Get("Allow") != "" {
				t.Errorf("Allow: %s", r.Header.Get("Allow"))
			}
			e := wantError(t, r, http.StatusNotFound, "not_found")
			if want := "No such route; did you mean " + tc.route + "?"; e.Error != want {
				t.Errorf("error %q, want %q", e.Error, want)
			}
		})
	}
	t.Run("NothingChanged", func(t *testing.T) {
		var got lockResp
		c.Do("GET", "/locks/a/b", alice, nil).JSON(t, &got)
		if got.LeaseID != l.LeaseID || !got.ExpiresAt.Equal(l.ExpiresAt) {
			t.Fatalf("lock changed: %+v, was %+v", got, l)
		}
		var s sessionResp
		c.Do("GET", "/sessions/"+sess.SessionID, alice, nil).JSON(t, &s)
		if !s.Active {
			t.Fatalf("session ended by DELETE with a trailing slash: %+v", s)
		}
	})
	t.Run("NotRoutesStayPlain404", func(t *testing.T) {
		for _, p := range []string{"/nope/", "/locksx/", "/"} {
			if e := wantError(t, c.Raw("GET", p, alice, nil), http.StatusNotFound, "not_found"); e.Error != "No such route" {
				t.Errorf("%s: %q", p, e.Error)
			}
		}
	})
	t.Run("DashboardKeepsItsSlash", func(t *testing.T) {
		r := c.Get("/ui/", "", nil)
		wantStatus(t, r, http.StatusOK)
		if r := c.Raw("GET", "/ui", "", nil); r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != "/ui/" {
			t.Fatalf("/ui: %d to %q", r.Status, r.Header.Get("Location"))
		}
	})
}
