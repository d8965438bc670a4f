package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/httpapi"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
)

func startLimited(t *testing.T, l httpapi.Limits) *apitest.Client {
	t.Helper()
	srv := apitest.StartServerWith(t, "", func(c *server.Config) { c.Limits = l })
	return apitest.New(t, "http://"+srv.Addr())
}

// checkRetryAfter fails unless r is status with code and a Retry-After of
// whole seconds, at least 1.
func checkRetryAfter(t *testing.T, r *apitest.Response, status int, code string) {
	t.Helper()
	var e errResp
	r.JSON(t, &e)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.Status != status || e.Code != code || err != nil || secs < 1 {
		t.Fatalf("got %d %q Retry-After %q, want %d %s", r.Status, e.Code, r.Header.Get("Retry-After"), status, code)
	}
}

func TestLimits_FloodIsRateLimitedOthersServed(t *testing.T) {
	c := startLimited(t, httpapi.Limits{Rate: 20, Burst: 20})
	ctx, stop := context.WithCancel(context.Background())
	var limited atomic.Int64
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for ctx.Err() == nil {
			r := c.Do("GET", "/locks", alice, nil)
			if r.Status == http.StatusTooManyRequests {
				checkRetryAfter(t, r, http.StatusTooManyRequests, "rate_limited")
				limited.Add(1)
			}
		}
	}()
	defer func() { stop(); <-flooded }()
	poll.Until(t, 10*time.Second, "20 429s for the flood", func() bool { return limited.Load() >= 20 })
	// Bob is served promptly while Alice is being refused.
	for i := range 10 {
		start := time.Now()
		if r := c.Do("GET", "/locks", bob, nil); r.Status != http.StatusOK {
			t.Fatalf("bob's request %d during the flood: %d %s", i, r.Status, r.Body)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("bob's request %d took %v", i, d)
		}
	}
	if n := limited.Load(); n < 20 {
		t.Fatalf("only %d 429s", n)
	}
}

func TestLimits_Quotas(t *testing.T) {
	c := startLimited(t, httpapi.Limits{MaxLocksPerUser: 3, MaxSessionsPerUser: 2})
	for i := range 3 {
		mustAcquire(t, c, fmt.Sprintf("quota/%d", i), alice, 30)
	}
	r, _ := acquire(t, c, "quota/3", alice, body{"ttl_seconds": 30})
	checkRetryAfter(t, r, http.StatusTooManyRequests, "too_many_locks")
	// Re-acquiring a held lock is no new lock; other users are not affected.
	if r, _ := acquire(t, c, "quota/0", alice, body{"ttl_seconds": 30}); r.Status != http.StatusOK {
		t.Fatalf("re-acquire at the quota: %d", r.Status)
	}
	mustAcquire(t, c, "quota/3", bob, 30)
	for range 2 {
		if r := c.Do("POST", "/sessions", alice, body{}); r.Status != http.StatusCreated {
			t.Fatalf("session: %d %s", r.Status, r.Body)
		}
	}
	checkRetryAfter(t, c.Do("POST", "/sessions", alice, body{}), http.StatusTooManyRequests, "too_many_sessions")
}

// A held waiting slot does not starve short requests, and waits beyond
// the waiting slots are answered at once, as try-locks.
func TestLimits_WaitersDoNotStarveShortRequests(t *testing.T) {
	c := startLimited(t, httpapi.Limits{MaxInFlight: 2, MaxWaiting: 1})
	held := mustAcquire(t, c, "busy", alice, 30)
	done := make(chan int)
	go func() {
		r, _ := acquire(t, c, "busy", bob, body{"ttl_seconds": 5, "wait_seconds": 20})
		done <- r.Status
	}()
	poll.Until(t, 10*time.Second, "the waiter queued", func() bool {
		var l struct{ Waiters int }
		c.Do("GET", "/locks/busy", alice, nil).JSON(t, &l)
		return l.Waiters == 1
	})
	start := time.Now()
	if r, _ := acquire(t, c, "busy", bob, body{"ttl_seconds": 5, "wait_seconds": 2}); r.Status != http.StatusConflict || time.Since(start) > time.Second {
		t.Fatalf("a wait beyond the waiting slots: %d after %v, want an immediate 409", r.Status, time.Since(start))
	}
	for range 5 {
		if r := c.Do("GET", "/locks", alice, nil); r.Status != http.StatusOK {
			t.Fatalf("short request while a waiter waits: %d", r.Status)
		}
	}
	if v, _ := value(scrape(t, c), "octostore_http_requests_waiting", nil); v != 1 {
		t.Fatalf("octostore_http_requests_waiting = %v while one acquire waits", v)
	}
	wantStatus(t, c.Do("POST", "/locks/busy/release", alice, body{"lease_id": held.LeaseID}), http.StatusOK)
	if s := <-done; s != http.StatusOK {
		t.Fatalf("the waiter, once the lock was released: %d", s)
	}
}

// Beyond the in-flight limit a request is refused at once with 503.
func TestLimits_OverloadIs503(t *testing.T) {
	e := startWithGitHub(t, func(g *auth.GitHubConfig) { g.Timeout = time.Minute }, func(c *server.Config) {
		c.Limits = httpapi.Limits{MaxInFlight: 1}
		c.MetricsToken = metricsToken
	})
	// A sign-in waiting for a GitHub that does not answer holds the only
	// slot. Nothing else competes for it until the metrics (outside
	// admission control) show it held: a request racing it could take the
	// slot first and have it refused.
	q, cookie := e.begin(t, octocat)
	release := e.gh.hold()
	defer release()
	signedIn := make(chan *apitest.Response, 1)
	go func() { signedIn <- e.callback(t, q, cookie, "") }()
	poll.Until(t, 10*time.Second, "the sign-in holds the slot", func() bool {
		v, _ := value(scrape(t, e.c), "octostore_http_requests_in_flight", nil)
		return v == 1
	})
	checkRetryAfter(t, e.c.Do("GET", "/locks", bob, nil), http.StatusServiceUnavailable, "overloaded")
	if r := e.c.Get("/health", "", nil); r.Status != http.StatusOK {
		t.Fatalf("health under overload: %d", r.Status)
	}
	release()
	wantStatus(t, <-signedIn, http.StatusOK)
	wantStatus(t, e.c.Do("GET", "/locks", bob, nil), http.StatusOK)
}
