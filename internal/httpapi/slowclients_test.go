package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/httpapi"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
)

// slowRequest is an attacker's request: its headers go out at once, its
// body a byte at a time, so slowly that it never ends unless the server
// ends it.
type slowRequest struct {
	slowSpec
	conn net.Conn
	br   *bufio.Reader
}

// slowSpec is what a slow request sends at once.
type slowSpec struct {
	method, path, token string // no Authorization when token is empty
	size                int    // the body's announced length; 0 sends it chunked
	prefix              string // the start of the body
	// expect asks for "100 Continue", which the server sends when it
	// starts reading the body: the attacker knows its body is being read.
	expect bool
}

// sendSlow connects to addr and sends sp's headers and the start of its
// body.
func sendSlow(t *testing.T, addr string, sp slowSpec) *slowRequest {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &slowRequest{slowSpec: sp, conn: conn, br: bufio.NewReader(conn)}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n", sp.method, sp.path, addr)
	if sp.token != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", sp.token)
	}
	if sp.expect {
		b.WriteString("Expect: 100-continue\r\n")
	}
	if sp.size == 0 {
		fmt.Fprintf(&b, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(sp.prefix), sp.prefix)
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", sp.size, sp.prefix)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	return s
}

// next reads the server's next answer, waiting at most within: "100
// Continue" once the server reads the body, or the final answer, which is
// checked against the spec. A connection closed or silent is an error.
func (s *slowRequest) next(c *apitest.Client, within time.Duration) (*apitest.Response, error) {
	return s.nextBy(c, time.Now().Add(within))
}

// nextBy is next with a deadline instead of a wait.
func (s *slowRequest) nextBy(c *apitest.Client, deadline time.Time) (*apitest.Response, error) {
	s.conn.SetReadDeadline(deadline)
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusContinue {
		return &apitest.Response{Status: resp.StatusCode, Header: resp.Header}, nil
	}
	return c.Check(s.method, s.path, resp), nil
}

// final is the final answer, after any "100 Continue".
func (s *slowRequest) final(c *apitest.Client, within time.Duration) (*apitest.Response, error) {
	for {
		r, err := s.next(c, within)
		if err != nil || r.Status != http.StatusContinue {
			return r, err
		}
	}
}

// drip sends one more byte of the body (a space, which keeps a JSON
// prefix valid) every interval, until ctx ends or the server stops
// reading.
func (s *slowRequest) drip(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	b := []byte(" ")
	if s.size == 0 {
		b = []byte("1\r\n \r\n")
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := s.conn.Write(b); err != nil {
			return
		}
	}
}

// Fifty clients sending bodies a byte at a time, as one user or
// unauthenticated, hold none of the 20 slots of --max-in-flight: another
// user's 200 requests are all served meanwhile. When admission came before
// the body was read, 20 of them took every slot, and everyone else was
// answered 503 until their bodies ended. The user's bodies are all read
// (without a slot); the unauthenticated ones are refused before a byte of
// body is read, as no public route takes a body.
func TestSlowBodies_DoNotStarveOthers(t *testing.T) {
	for _, tc := range []struct {
		name, path, token string
		read              int
	}{
		{"OneUser", "/locks/slow/acquire", alice, 50},
		{"Unauthenticated", "/locks/slow/acquire", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := apitest.StartServerWith(t, "", func(c *server.Config) {
				// No per-client limits: all 50 are read at once. The body
				// timeout outlasts the test.
				c.Limits = httpapi.Limits{MaxInFlight: 20, BodyTimeout: time.Minute}
			})
			c := apitest.New(t, "http://"+srv.Addr())
			ctx, stop := context.WithCancel(context.Background())
			var dripping sync.WaitGroup
			defer func() { stop(); dripping.Wait() }()
			var read []*slowRequest
			for range 50 {
				s := sendSlow(t, srv.Addr(), slowSpec{"POST", tc.path, tc.token, 60_000, "{", true})
				r, err := s.next(c, 10*time.Second)
				if err != nil {
					t.Fatalf("slow request: %v", err)
				}
				if r.Status != http.StatusContinue {
					continue // refused at once: it holds nothing
				}
				read = append(read, s)
				dripping.Add(1)
				go func() { defer dripping.Done(); s.drip(ctx, 20*time.Millisecond) }()
			}
			failed, first := bobsRequests(t, c, 200)
			if failed > 0 {
				t.Errorf("%d of bob's 200 requests failed while 50 bodies trickled in; the first: %s", failed, first)
			}
			if len(read) != tc.read {
				t.Errorf("the server reads %d of the 50 slow bodies, want %d", len(read), tc.read)
			}
			// They were still being read when bob was done: the server did
			// not get rid of them to serve him. An answer or a close would
			// be waiting on the connection; a live one has nothing to say.
			deadline := time.Now().Add(100 * time.Millisecond)
			for i, s := range read {
				if r, err := s.nextBy(c, deadline); !isTimeout(err) {
					t.Fatalf("slow request %d ended during the test: %v %v", i, r, err)
				}
			}
		})
	}
}

// bobsRequests makes n requests as bob, acquiring and releasing a lock,
// and says how many were not 200 and what the first of those was.
func bobsRequests(t *testing.T, c *apitest.Client, n int) (failed int, first string) {
	t.Helper()
	note := func(r *apitest.Response) {
		if r.Status != http.StatusOK {
			if failed++; failed == 1 {
				first = fmt.Sprintf("%d %s", r.Status, r.Body)
			}
		}
	}
	for range n / 2 {
		r, l := acquire(t, c, "bob-lock", bob, body{"ttl_seconds": 30})
		note(r)
		if r.Status == http.StatusOK {
			note(c.Do("POST", "/locks/bob-lock/release", bob, body{"lease_id": l.LeaseID}))
		} else {
			note(c.Do("GET", "/locks", bob, nil))
		}
	}
	return failed, first
}

// isTimeout: a read found nothing before its deadline; the connection is
// open and silent.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A body that trickles in more slowly than the body timeout allows is cut
// off: answered 408 and its connection closed (or just closed), never a
// 500, and nothing of it reaches the state, although what did arrive is
// a complete acquire.
func TestSlowBodies_CutOffAtBodyTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := apitest.StartServerWith(t, "", func(c *server.Config) { c.Limits = httpapi.Limits{BodyTimeout: timeout} })
	c := apitest.New(t, "http://"+srv.Addr())
	for _, tc := range []struct {
		name, path, token, prefix string
		size                      int // 0: chunked
	}{
		{"Acquire", "/locks/cut/acquire", alice, `{"ttl_seconds": 30}`, 1000},
		{"AcquireChunked", "/locks/cut/acquire", alice, `{"ttl_seconds": 30}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, stop := context.WithCancel(context.Background())
			var dripping sync.WaitGroup
			defer func() { stop(); dripping.Wait() }()
			start := time.Now()
			s := sendSlow(t, srv.Addr(), slowSpec{"POST", tc.path, tc.token, tc.size, tc.prefix, false})
			dripping.Add(1)
			go func() { defer dripping.Done(); s.drip(ctx, 20*time.Millisecond) }()
			r, err := s.final(c, 10*time.Second)
			switch {
			case err == nil:
				wantError(t, r, http.StatusRequestTimeout, "request_timeout")
			case isTimeout(err):
				t.Fatalf("no answer 10s after the %v body timeout, and the connection open", timeout)
			default:
				t.Logf("closed without an answer: %v", err) // as good as a 408
			}
			if d := time.Since(start); d < timeout {
				t.Errorf("cut off after %v, before the %v body timeout", d, timeout)
			}
			if r, err := s.next(c, 10*time.Second); err == nil || isTimeout(err) {
				t.Fatalf("the connection still serves after the cut-off: %v %v", r, err)
			}
			var l lockResp
			c.Do("GET", "/locks/cut", alice, nil).JSON(t, &l)
			if l.Status != "available" {
				t.Fatalf("after the cut-off the lock is %q, want available", l.Status)
			}
		})
	}
}

// slowlyRead sends n requests whose bodies never come and waits until the
// server reads each (its "100 Continue"): they hold their client's slots.
func slowlyRead(t *testing.T, c *apitest.Client, addr, path, token string, n int) []*slowRequest {
	t.Helper()
	var held []*slowRequest
	for range n {
		s := sendSlow(t, addr, slowSpec{"POST", path, token, 1000, "{", true})
		if r, err := s.next(c, 10*time.Second); err != nil || r.Status != http.StatusContinue {
			t.Fatalf("slow request to %s: %v %v, want it read", path, r, err)
		}
		held = append(held, s)
	}
	return held
}

// A user, or an address calling public routes, with as many requests in
// progress as it may have (bodies that never come; sign-ins waiting on a
// GitHub that does not answer) is refused more, 429 at once, while other
// users are served. The address is the connection's: a client cannot pick
// another with X-Forwarded-For. Its slots come back when its requests end.
func TestLimits_PerClientInFlight(t *testing.T) {
	e := startWithGitHub(t, func(g *auth.GitHubConfig) { g.Timeout = time.Minute }, func(c *server.Config) {
		c.Limits = httpapi.Limits{MaxInFlightPerUser: 3, MaxInFlightPerAddr: 2, BodyTimeout: time.Minute}
		c.MetricsToken = metricsToken
	})
	c := e.c
	slow := slowlyRead(t, c, e.srv.Addr(), "/locks/slow/acquire", alice, 3)
	checkRetryAfter(t, c.Do("GET", "/locks", alice, nil), http.StatusTooManyRequests, "too_many_in_flight")
	wantStatus(t, c.Do("GET", "/locks", bob, nil), http.StatusOK) // from the same address: a user counts as a user

	var queries []url.Values
	var cookies []*http.Cookie
	for range 2 {
		q, cookie := e.begin(t, octocat)
		queries, cookies = append(queries, q), append(cookies, cookie)
	}
	release := e.gh.hold()
	defer release()
	signedIn := make(chan *apitest.Response, 2)
	for i := range 2 {
		go func() { signedIn <- e.callback(t, queries[i], cookies[i], "") }()
	}
	poll.Until(t, 10*time.Second, "two sign-ins hold the address's slots", func() bool {
		v, _ := value(scrape(t, c), "octostore_http_requests_in_flight", nil)
		return v == 2
	})
	checkRetryAfter(t, c.Get("/openapi.yaml", "", nil), http.StatusTooManyRequests, "too_many_in_flight")
	spoofed := http.Header{"X-Forwarded-For": {"203.0.113.7"}, "X-Real-Ip": {"203.0.113.7"}}
	checkRetryAfter(t, c.Get("/openapi.yaml", "", spoofed), http.StatusTooManyRequests, "too_many_in_flight")
	wantStatus(t, c.Get("/health", "", nil), http.StatusOK)
	wantStatus(t, c.Do("GET", "/locks", bob, nil), http.StatusOK)

	release()
	for range 2 {
		wantStatus(t, <-signedIn, http.StatusOK)
	}
	for _, s := range slow {
		s.conn.Close()
	}
	poll.Until(t, 10*time.Second, "alice served again", func() bool {
		return c.Do("GET", "/locks", alice, nil).Status == http.StatusOK
	})
	wantStatus(t, c.Get("/openapi.yaml", "", nil), http.StatusOK)
}

// A user's waiting acquires do not count among its requests in progress,
// however many it has (a fleet of workers waiting for one lock), and a
// wait outlasts the body timeout, which covers only reading the body.
func TestLimits_WaitsOutsidePerUserLimit(t *testing.T) {
	const bodyTimeout = 200 * time.Millisecond
	srv := apitest.StartServerWith(t, "", func(c *server.Config) {
		c.Limits = httpapi.Limits{MaxInFlightPerUser: 2, BodyTimeout: bodyTimeout}
	})
	c := apitest.New(t, "http://"+srv.Addr())
	held := mustAcquire(t, c, "queue", alice, 30)
	done := make(chan string, 3)
	for range 3 {
		session := newSession(t, c, bob, 60).SessionID // three holders
		go func() {
			r, l := acquire(t, c, "queue", bob, body{"ttl_seconds": 30, "wait_seconds": 30, "session_id": session})
			if r.Status == http.StatusOK {
				c.Do("POST", "/locks/queue/release", bob, body{"lease_id": l.LeaseID})
			}
			done <- fmt.Sprintf("%d %s", r.Status, r.Body)
		}()
	}
	poll.Until(t, 10*time.Second, "three waiters queued", func() bool {
		var l struct{ Waiters int }
		c.Do("GET", "/locks/queue", alice, nil).JSON(t, &l)
		return l.Waiters == 3
	})
	wantStatus(t, c.Do("GET", "/locks", bob, nil), http.StatusOK)
	<-time.After(5 * bodyTimeout) // not a state to wait for: time for the body timeout to pass
	wantStatus(t, c.Do("POST", "/locks/queue/release", alice, body{"lease_id": held.LeaseID}), http.StatusOK)
	for range 3 {
		if r := <-done; !strings.HasPrefix(r, "200 ") {
			t.Errorf("a waiter: %s", r)
		}
	}
}

// A body sent where none is read (with a GET) is not waited for: the
// answer comes at once and the connection closes. net/http would read the
// rest of the body to reuse the connection, and it does that while the
// handler writes an answer longer than its 2 KiB buffer, so the request
// held its slot for as long as the body trickled in.
func TestSlowBodies_UnreadBodyNotWaitedFor(t *testing.T) {
	srv := apitest.StartServerWith(t, "", func(c *server.Config) { c.Limits = httpapi.Limits{MaxInFlight: 1} })
	c := apitest.New(t, "http://"+srv.Addr())
	for i := range 40 { // a lock list well over 2 KiB
		mustAcquire(t, c, fmt.Sprintf("filler/%02d-%s", i, strings.Repeat("x", 40)), bob, 300)
	}
	ctx, stop := context.WithCancel(context.Background())
	var dripping sync.WaitGroup
	defer func() { stop(); dripping.Wait() }()
	s := sendSlow(t, srv.Addr(), slowSpec{"GET", "/locks", alice, 60_000, "{", false})
	dripping.Add(1)
	go func() { defer dripping.Done(); s.drip(ctx, 20*time.Millisecond) }()
	r, err := s.final(c, 10*time.Second)
	if err != nil {
		t.Fatalf("no answer to a GET whose body trickles in: %v", err)
	}
	wantStatus(t, r, http.StatusOK)
	if r, err := s.next(c, 10*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("the connection stays open for the rest of the body: %v %v", r, err)
	}
	wantStatus(t, c.Do("GET", "/locks", bob, nil), http.StatusOK) // the only slot is free
}
