package httpapi_test

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/httpapi"
	"github.com/octostore/octostore/internal/server"
)

// TestLimits_FailedAuthenticationsPerAddress, from a guesser's side: 25
// wrong tokens from one address, each with a new X-Forwarded-For to look
// like a new client. The first 20 are 401s, the rest 429
// too_many_failed_authentications with a Retry-After within the minute;
// so is a request with no token. A valid token from the same address is
// still served, and a client at another loopback address is not touched.
func TestLimits_FailedAuthenticationsPerAddress(t *testing.T) {
	srv := apitest.StartServerWith(t, "", func(c *server.Config) { c.Limits = httpapi.Limits{AuthFailureLimit: 20} })
	c := apitest.New(t, "http://"+srv.Addr())
	for i := 1; i <= 25; i++ {
		spoof := http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", i)}}
		r := c.Get("/locks", fmt.Sprintf("guess-%02d-0123456789abcdef", i), spoof)
		if i <= 20 {
			wantError(t, r, http.StatusUnauthorized, "unauthorized")
			continue
		}
		checkRetryAfter(t, r, http.StatusTooManyRequests, "too_many_failed_authentications")
		if secs, _ := strconv.Atoi(r.Header.Get("Retry-After")); secs > 60 {
			t.Fatalf("Retry-After %d s: longer than the window", secs)
		}
	}
	checkRetryAfter(t, c.Get("/locks", "", nil), http.StatusTooManyRequests, "too_many_failed_authentications")
	for range 3 {
		wantStatus(t, c.Get("/locks", alice, nil), http.StatusOK)
	}

	// Another address (127.0.0.2 is loopback too on Linux) has its own count.
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	other := apitest.NewWith(t, "http://"+srv.Addr(), &http.Transport{DialContext: dialer.DialContext})
	wantError(t, other.Get("/locks", "guess-other-0123456789abcdef", nil), http.StatusUnauthorized, "unauthorized")
}

// TestLimits_FailedAuthenticationsOff: with the limit at 0 (as in the other
// tests' servers) failures are never refused as such.
func TestLimits_FailedAuthenticationsOff(t *testing.T) {
	c := startLimited(t, httpapi.Limits{})
	for i := range 30 {
		wantError(t, c.Get("/locks", fmt.Sprintf("guess-%02d-0123456789abcdef", i), nil), http.StatusUnauthorized, "unauthorized")
	}
}
