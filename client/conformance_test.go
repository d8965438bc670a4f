package client_test

// The client conformance scenarios of clients/conformance.md, one test per
// scenario ID, against the real octostore binary (built once by TestMain).
// The Python and TypeScript suites run the same scenarios.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/proctest"
)

// binary is the octostore executable built once for the conformance tests.
var binary string

func TestMain(m *testing.M) { os.Exit(proctest.Main(m, &binary)) }

const (
	aliceTok = "alice-conformance-token-01"
	bobTok   = "bob-conformance-token-002"
	carolTok = "carol-conformance-token-03"
)

var confEnv = []string{"OCTOSTORE_TOKENS=alice:" + aliceTok + ",bob:" + bobTok + ",carol:" + carolTok}

// confRetry is DefaultRetry with a shorter first backoff; Max still
// leaves room for a Retry-After of 1 s.
var confRetry = client.Retry{Attempts: 5, Min: 10 * time.Millisecond, Max: 2 * time.Second}

// confServer is `octostore serve` on a temp data dir, restartable.
type confServer struct {
	t    *testing.T
	dir  string
	args []string
	p    *proctest.Proc
}

func startConf(t *testing.T, args ...string) *confServer {
	t.Helper()
	s := &confServer{t: t, dir: t.TempDir() + "/data", args: args}
	s.p = s.start()
	return s
}

// start runs the binary on s's data dir with extra flags.
func (s *confServer) start(extra ...string) *proctest.Proc {
	s.t.Helper()
	args := append(append([]string{"--data-dir", s.dir}, s.args...), extra...)
	return proctest.Start(s.t, binary, confEnv, args...)
}

// stop ends p gracefully (SIGTERM) and waits for it.
func stop(p *proctest.Proc) {
	p.Signal(syscall.SIGTERM)
	p.Wait()
}

// hostPort is the server's host:port.
func (s *confServer) hostPort() string { return strings.TrimPrefix(s.p.Addr, "http://") }

// client is a client of the server for token, every exchange validated
// against the served spec.
func (s *confServer) client(t *testing.T, token string) *client.Client {
	t.Helper()
	return clientVia(t, s.p.Addr, s.p.Addr, token)
}

// clientVia talks to base (a proxy, say) and validates against the spec
// served at specBase.
func clientVia(t *testing.T, base, specBase, token string) *client.Client {
	t.Helper()
	hc := &http.Client{Transport: apitest.New(t, specBase).Transport(http.DefaultTransport)}
	c, err := client.New(base, token, client.WithHTTPClient(hc), client.WithRetry(confRetry))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// plain is a client without spec validation, for requests the spec
// forbids on purpose.
func plain(t *testing.T, base, token string, r client.Retry) *client.Client {
	t.Helper()
	c, err := client.New(base, token, client.WithRetry(r))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// metric is octostore_http_requests_total for code, method and route.
func (s *confServer) metric(t *testing.T, code, method, route string) int {
	t.Helper()
	resp, err := http.Get(s.p.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	want := fmt.Sprintf(`octostore_http_requests_total{code=%q,method=%q,route=%q} `, code, method, route)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// apiErr is err's *APIError, failing the test without one.
func apiErr(t *testing.T, err error, status int, code string) *client.APIError {
	t.Helper()
	var e *client.APIError
	if !errors.As(err, &e) || e.StatusCode != status || e.Code != code || e.RequestID == "" {
		t.Fatalf("want %d %s with a request ID, got %v", status, code, err)
	}
	return e
}

func within(t *testing.T, got, want time.Time, tol time.Duration, what string) {
	t.Helper()
	if d := got.Sub(want); d < -tol || d > tol {
		t.Fatalf("%s: %v, want %v ± %v", what, got, want, tol)
	}
}

// status reads name, failing the test on an error.
func status(t *testing.T, c *client.Client, name string) *client.LockStatus {
	t.Helper()
	st, err := c.Get(ctx(t), name, client.GetOptions{})
	if err != nil {
		t.Fatalf("status of %s: %v", name, err)
	}
	return st
}

func TestConformance_C01_AcquireRenewRelease(t *testing.T) {
	s := startConf(t)
	alice, c := s.client(t, aliceTok), ctx(t)
	l, err := alice.Acquire(c, "c01/job", client.AcquireOptions{TTL: 30 * time.Second, Metadata: "nightly"})
	if err != nil || l.Status != "acquired" || l.Name != "c01/job" || l.LeaseID == "" || l.FencingToken == 0 ||
		l.Holder != "alice" || l.Metadata != "nightly" {
		t.Fatalf("acquire: %+v %v", l, err)
	}
	within(t, l.ExpiresAt, time.Now().Add(30*time.Second), 2*time.Second, "expires_at")
	again, err := alice.Acquire(c, "c01/job", client.AcquireOptions{TTL: 30 * time.Second})
	if err != nil || again.Status != "held" || again.LeaseID != l.LeaseID || again.FencingToken != l.FencingToken {
		t.Fatalf("re-acquire: %+v %v", again, err)
	}
	st := status(t, alice, "c01/job")
	if !st.Held || st.Holder != "alice" || st.LeaseID != l.LeaseID || st.FencingToken != l.FencingToken ||
		st.Waiters != 0 || st.Metadata != "nightly" {
		t.Fatalf("status: %+v", st)
	}
	r, err := alice.Renew(c, "c01/job", l.LeaseID, 120*time.Second)
	if err != nil || r.ExpiresAt.Before(l.ExpiresAt.Add(60*time.Second)) {
		t.Fatalf("renew: %+v %v", r, err)
	}
	if err := alice.Release(c, "c01/job", l.LeaseID); err != nil {
		t.Fatal(err)
	}
	if st := status(t, alice, "c01/job"); st.Held || st.Status != "available" {
		t.Fatalf("after release: %+v", st)
	}
	_, err = alice.Renew(c, "c01/job", l.LeaseID, 30*time.Second)
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("renew after release: %v", err)
	}
	apiErr(t, err, 404, "lock_not_found")
	if err := alice.Release(c, "c01/job", l.LeaseID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("release again: %v", err)
	}

	// The lease helper keeps a 2 s lease past its TTL.
	lease, err := alice.Hold(c, "c01/kept", client.LeaseOptions{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 3500*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		if st := status(t, alice, "c01/kept"); !st.Held || st.LeaseID != lease.LeaseID() {
			t.Fatalf("kept lease: %+v", st)
		}
	}
	if lease.Err() != nil {
		t.Fatalf("kept lease lost: %v", lease.Err())
	}
	if err := lease.Release(c); err != nil {
		t.Fatal(err)
	}
	if st := status(t, alice, "c01/kept"); st.Held {
		t.Fatalf("helper did not release: %+v", st)
	}

	// Left by a panic, it still releases.
	got := func() (r any) {
		defer func() { r = recover() }()
		lease, err := alice.Hold(c, "c01/kept", client.LeaseOptions{TTL: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release(context.Background())
		panic("boom")
	}()
	if got != "boom" {
		t.Fatalf("recovered %v", got)
	}
	if st := status(t, alice, "c01/kept"); st.Held {
		t.Fatalf("helper left by a panic did not release: %+v", st)
	}
}

func TestConformance_C02_List(t *testing.T) {
	s := startConf(t)
	alice, bob, c := s.client(t, aliceTok), s.client(t, bobTok), ctx(t)
	for _, a := range []struct {
		c    *client.Client
		name string
	}{{alice, "c02/a"}, {alice, "c02/b"}, {bob, "c02/c"}, {alice, "c02x/other"}} {
		if _, err := a.c.Acquire(c, a.name, client.AcquireOptions{TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := alice.List(c, client.ListOptions{Prefix: "c02/", Limit: 2})
	if err != nil || page.Total != 2 || len(page.Locks) != 2 || page.Locks[0].Name != "c02/a" ||
		page.Locks[1].Name != "c02/b" || page.NextAfter == nil {
		t.Fatalf("first page: %+v %v", page, err)
	}
	for _, l := range page.Locks {
		if l.Holder != "alice" || l.HolderID == "" || l.FencingToken == 0 || l.ExpiresAt.IsZero() {
			t.Fatalf("listed lock: %+v", l)
		}
	}
	page, err = alice.List(c, client.ListOptions{Prefix: "c02/", Limit: 2, After: *page.NextAfter})
	if err != nil || len(page.Locks) != 1 || page.Locks[0].Name != "c02/c" || page.Locks[0].Holder != "bob" ||
		page.NextAfter != nil {
		t.Fatalf("second page: %+v %v", page, err)
	}
	all, err := alice.ListAll(c, "c02/")
	if err != nil || len(all) != 3 || all[0].Name != "c02/a" || all[1].Name != "c02/b" || all[2].Name != "c02/c" {
		t.Fatalf("list all: %+v %v", all, err)
	}
}

func TestConformance_C03_ConflictAndErrors(t *testing.T) {
	s := startConf(t)
	alice, bob, c := s.client(t, aliceTok), s.client(t, bobTok), ctx(t)
	l, err := alice.Acquire(c, "c03/lock", client.AcquireOptions{TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.Acquire(c, "c03/lock", client.AcquireOptions{TTL: 30 * time.Second})
	if !errors.Is(err, client.ErrLockHeld) {
		t.Fatalf("bob's acquire: %v", err)
	}
	apiErr(t, err, 409, "lock_held")
	held, ok := client.HeldBy(err)
	if !ok || held.Holder != "alice" || held.Name != "c03/lock" {
		t.Fatalf("conflict: %+v %v", held, ok)
	}
	within(t, held.ExpiresAt, l.ExpiresAt, time.Millisecond, "conflict's expires_at")

	before := s.metric(t, "401", "GET", "/locks")
	nobody := plain(t, s.p.Addr, "nobody-conformance-token", confRetry)
	_, err = nobody.List(c, client.ListOptions{})
	if !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("unknown token: %v", err)
	}
	apiErr(t, err, 401, "unauthorized")
	if n := s.metric(t, "401", "GET", "/locks"); n != before+1 {
		t.Fatalf("401 answered %d times, want once (not retried)", n-before)
	}

	// ttl 0 violates the spec: sent without validation.
	_, err = plain(t, s.p.Addr, aliceTok, confRetry).Acquire(c, "c03/bad", client.AcquireOptions{})
	if !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("ttl 0: %v", err)
	}
	apiErr(t, err, 422, "validation_error")

	_, err = alice.KeepAlive(c, "00000000-0000-4000-8000-000000000000")
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	apiErr(t, err, 404, "session_not_found")
}

func TestConformance_C04_SessionEndsLocks(t *testing.T) {
	s := startConf(t)
	alice, bob, c := s.client(t, aliceTok), s.client(t, bobTok), ctx(t)
	g, err := alice.CreateSession(c, 10*time.Second)
	if err != nil || g.ID == "" || g.KeepaliveIntervalSecs != 5 {
		t.Fatalf("create session: %+v %v", g, err)
	}
	within(t, g.ExpiresAt, time.Now().Add(10*time.Second), 2*time.Second, "session expires_at")
	for _, name := range []string{"c04/a", "c04/b"} {
		l, err := alice.Acquire(c, name, client.AcquireOptions{TTL: time.Minute, SessionID: g.ID})
		if err != nil || l.Status != "acquired" || l.SessionID != g.ID {
			t.Fatalf("acquire %s with the session: %+v %v", name, l, err)
		}
	}
	ss, err := alice.GetSession(c, g.ID)
	if err != nil || !ss.Active || ss.LockCount != 2 {
		t.Fatalf("session status: %+v %v", ss, err)
	}
	ka, err := alice.KeepAlive(c, g.ID)
	if err != nil || !ka.ExpiresAt.After(g.ExpiresAt) {
		t.Fatalf("keepalive: %+v %v", ka, err)
	}
	if _, err := bob.Acquire(c, "c04/a", client.AcquireOptions{TTL: time.Minute}); !errors.Is(err, client.ErrLockHeld) {
		t.Fatalf("bob's acquire: %v", err)
	}
	if err := alice.DeleteSession(c, g.ID); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"c04/a", "c04/b"} {
		if st := status(t, alice, name); st.Held {
			t.Fatalf("%s after the session ended: %+v", name, st)
		}
	}
	if ss, err := alice.GetSession(c, g.ID); err != nil || ss.Active {
		t.Fatalf("ended session: %+v %v", ss, err)
	}
	_, err = alice.KeepAlive(c, g.ID)
	if !errors.Is(err, client.ErrSessionExpired) {
		t.Fatalf("keepalive of an ended session: %v", err)
	}
	apiErr(t, err, 410, "session_expired")
	if err := alice.DeleteSession(c, g.ID); err != nil {
		t.Fatalf("delete again: %v", err)
	}

	sess, err := alice.StartSession(c, client.SessionOptions{TTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.Hold(c, "c04/helper", client.LeaseOptions{TTL: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if st := status(t, alice, "c04/helper"); !st.Held || st.SessionID != sess.ID() {
		t.Fatalf("held through the session helper: %+v", st)
	}
	if err := sess.Close(c); err != nil {
		t.Fatal(err)
	}
	if st := status(t, alice, "c04/helper"); st.Held {
		t.Fatalf("after the session helper closed: %+v", st)
	}
}

func TestConformance_C05_FencingAcrossHolders(t *testing.T) {
	s := startConf(t)
	alice, bob, carol, c := s.client(t, aliceTok), s.client(t, bobTok), s.client(t, carolTok), ctx(t)
	l1, err := alice.Acquire(c, "c05/res", client.AcquireOptions{TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Release(c, "c05/res", l1.LeaseID); err != nil {
		t.Fatal(err)
	}
	l2, err := bob.Acquire(c, "c05/res", client.AcquireOptions{TTL: time.Second})
	if err != nil || l2.FencingToken <= l1.FencingToken {
		t.Fatalf("bob: %+v %v (alice had %d)", l2, err, l1.FencingToken)
	}
	l3, err := carol.Acquire(c, "c05/res", client.AcquireOptions{TTL: 30 * time.Second, Wait: 10 * time.Second})
	granted := time.Now()
	if err != nil || l3.Status != "acquired" || l3.Holder != "carol" || l3.FencingToken <= l2.FencingToken {
		t.Fatalf("carol: %+v %v (bob had %d)", l3, err, l2.FencingToken)
	}
	if free := l2.ExpiresAt.Add(time.Second); granted.Before(free.Add(-10 * time.Millisecond)) {
		t.Fatalf("granted at %v, before bob's lease was free (%v)", granted, free)
	}
	if _, err := bob.Renew(c, "c05/res", l2.LeaseID, 30*time.Second); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("bob's renew: %v", err)
	}
	if err := bob.Release(c, "c05/res", l2.LeaseID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("bob's release: %v", err)
	}
	if st := status(t, alice, "c05/res"); !st.Held || st.Holder != "carol" || st.FencingToken != l3.FencingToken {
		t.Fatalf("status: %+v", st)
	}
	l4, err := alice.Acquire(c, "c05/other", client.AcquireOptions{TTL: 30 * time.Second})
	if err != nil || l4.FencingToken <= l3.FencingToken {
		t.Fatalf("another lock: %+v %v (carol had %d)", l4, err, l3.FencingToken)
	}
}

// waitFor polls name's status until ok, for up to 10 s.
func waitFor(t *testing.T, c *client.Client, name, what string, ok func(*client.LockStatus) bool) {
	t.Helper()
	if !poll.Wait(10*time.Second, func() bool { return ok(status(t, c, name)) }) {
		t.Fatalf("%s: never reached; last %+v", what, status(t, c, name))
	}
}

type acquired struct {
	l   *client.Lock
	err error
}

func acquireAsync(c context.Context, cl *client.Client, name string, o client.AcquireOptions) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		l, err := cl.Acquire(c, name, o)
		ch <- acquired{l, err}
	}()
	return ch
}

func TestConformance_C06_WaitFIFO(t *testing.T) {
	s := startConf(t)
	alice, bob, carol, c := s.client(t, aliceTok), s.client(t, bobTok), s.client(t, carolTok), ctx(t)
	la, err := alice.Acquire(c, "c06/q", client.AcquireOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	wait := client.AcquireOptions{TTL: time.Minute, Wait: 30 * time.Second}
	bobCh := acquireAsync(c, bob, "c06/q", wait)
	waitFor(t, alice, "c06/q", "bob queued", func(st *client.LockStatus) bool { return st.Waiters == 1 })
	carolCh := acquireAsync(c, carol, "c06/q", wait)
	waitFor(t, alice, "c06/q", "carol queued", func(st *client.LockStatus) bool { return st.Waiters == 2 })

	if err := alice.Release(c, "c06/q", la.LeaseID); err != nil {
		t.Fatal(err)
	}
	var lb acquired
	select {
	case lb = <-bobCh:
	case <-time.After(10 * time.Second):
		t.Fatal("bob was not granted the lock")
	}
	if lb.err != nil || lb.l.Status != "acquired" || lb.l.Holder != "bob" || lb.l.FencingToken <= la.FencingToken {
		t.Fatalf("bob: %+v %v", lb.l, lb.err)
	}
	if st := status(t, alice, "c06/q"); st.Holder != "bob" || st.Waiters != 1 {
		t.Fatalf("after bob's grant: %+v", st)
	}
	select {
	case r := <-carolCh:
		t.Fatalf("carol answered before bob released: %+v %v", r.l, r.err)
	default:
	}
	if err := bob.Release(c, "c06/q", lb.l.LeaseID); err != nil {
		t.Fatal(err)
	}
	var lc acquired
	select {
	case lc = <-carolCh:
	case <-time.After(10 * time.Second):
		t.Fatal("carol was not granted the lock")
	}
	if lc.err != nil || lc.l.Status != "acquired" || lc.l.Holder != "carol" || lc.l.FencingToken <= lb.l.FencingToken {
		t.Fatalf("carol: %+v %v", lc.l, lc.err)
	}

	if _, err := carol.Acquire(c, "c06/short", client.AcquireOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = alice.Acquire(c, "c06/short", client.AcquireOptions{TTL: time.Minute, Wait: time.Second})
	if held, ok := client.HeldBy(err); !errors.Is(err, client.ErrLockHeld) || !ok || held.Holder != "carol" ||
		time.Since(start) < 900*time.Millisecond {
		t.Fatalf("wait that runs out: %v after %v", err, time.Since(start))
	}

	lcar, err := carol.Acquire(c, "c06/helper", client.AcquireOptions{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := alice.Hold(c, "c06/helper", client.LeaseOptions{TTL: 5 * time.Second, Wait: 10 * time.Second})
	if err != nil || lease.FencingToken() <= lcar.FencingToken {
		t.Fatalf("helper with wait: %v", err)
	}
	defer lease.Release(context.Background())
	if st := status(t, alice, "c06/helper"); st.Holder != "alice" || st.LeaseID != lease.LeaseID() {
		t.Fatalf("after the helper's wait: %+v", st)
	}
}

func TestConformance_C07_EventsResumeRestart(t *testing.T) {
	s := startConf(t)
	first := s.p.Addr
	alice, c := s.client(t, aliceTok), ctx(t)
	// Watching from the current index misses nothing, however long the
	// stream takes to open.
	from := status(t, alice, "c07/a").Index
	events := make(chan client.Event, 100)
	wctx, stopWatch := context.WithCancel(c)
	watched := make(chan error, 1)
	go func() {
		watched <- alice.Watch(wctx, client.EventsOptions{Prefix: "c07/", Resume: true, After: from},
			func(e client.Event) error { events <- e; return nil })
	}()
	defer func() {
		stopWatch()
		<-watched
	}()
	next := func() client.Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(15 * time.Second):
			t.Fatal("no event within 15 s")
			return client.Event{}
		}
	}
	la, err := alice.Acquire(c, "c07/a", client.AcquireOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := next()
	if e.Type != "acquired" || e.Lock != "c07/a" || e.HolderID == "" || e.FencingToken != la.FencingToken ||
		e.Timestamp.IsZero() || e.ID == 0 {
		t.Fatalf("first event: %+v", e)
	}
	n := e.ID

	// Events the watcher cannot see live: made on another port.
	stop(s.p)
	s.p = s.start()
	other := s.client(t, aliceTok)
	if err := other.Release(c, "c07/a", la.LeaseID); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"c07/b", "x07/ignored"} {
		if _, err := other.Acquire(c, name, client.AcquireOptions{TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	stop(s.p)
	s.p = s.start("--listen", strings.TrimPrefix(first, "http://"))
	if s.p.Addr != first {
		t.Fatalf("restarted on %s, not %s", s.p.Addr, first)
	}
	if _, err := alice.Acquire(c, "c07/c", client.AcquireOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	want := []struct{ typ, lock string }{{"released", "c07/a"}, {"acquired", "c07/b"}, {"acquired", "c07/c"}}
	last := n
	var got []client.Event
	for _, w := range want {
		e := next()
		got = append(got, e)
		if e.Type != w.typ || e.Lock != w.lock || e.ID <= last {
			t.Fatalf("after the restart, event %+v, want %s %s after %d", e, w.typ, w.lock, last)
		}
		last = e.ID
	}
	select {
	case e := <-events:
		t.Fatalf("unexpected event %+v", e)
	default:
	}

	stream, err := alice.Events(c, client.EventsOptions{Prefix: "c07/", Resume: true, After: n})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for _, g := range got {
		e, err := stream.Next()
		if err != nil || e.ID != g.ID || e.Type != g.Type || e.Lock != g.Lock {
			t.Fatalf("resumed stream: %+v %v, want %+v", e, err, g)
		}
	}
}

func TestConformance_C08_LeaseLostRefusedRenewal(t *testing.T) {
	s := startConf(t)
	alice, bob, c := s.client(t, aliceTok), s.client(t, bobTok), ctx(t)
	lease, err := alice.Hold(c, "c08/lock", client.LeaseOptions{TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Release(c, "c08/lock", lease.LeaseID()); err != nil {
		t.Fatal(err)
	}
	lost := done(t, lease.Context(), 2500*time.Millisecond, "lease after its release")
	if !errors.Is(lease.Err(), client.ErrLeaseLost) || !lost.Before(lease.Deadline()) {
		t.Fatalf("lost at %v (deadline %v): %v", lost, lease.Deadline(), lease.Err())
	}
	lb, err := bob.Acquire(c, "c08/lock", client.AcquireOptions{TTL: 30 * time.Second})
	if err != nil || lb.Status != "acquired" {
		t.Fatalf("bob: %+v %v", lb, err)
	}
	if err := lease.Release(c); err != nil {
		t.Fatalf("release of a lost lease: %v", err)
	}
	if st := status(t, alice, "c08/lock"); st.Holder != "bob" {
		t.Fatalf("bob's lock: %+v", st)
	}
}

func TestConformance_C09_LeaseLostDeadline(t *testing.T) {
	s := startConf(t)
	alice, c := s.client(t, aliceTok), ctx(t)
	sent := time.Now()
	lease, err := alice.Hold(c, "c09/lock", client.LeaseOptions{TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	expires := lease.Lock().ExpiresAt
	s.p.Signal(syscall.SIGSTOP)
	defer s.p.Signal(syscall.SIGCONT)
	if err := lease.Err(); err != nil {
		t.Fatalf("lost at once: %v", err)
	}
	lost := done(t, lease.Context(), 5*time.Second, "lease of a paused server")
	margin := time.Second // max(ttl/10, min(1s, ttl/3)) for ttl 3s
	if !errors.Is(lease.Err(), client.ErrLeaseLost) || !lost.Before(expires) ||
		lost.Before(sent.Add(3*time.Second-margin-100*time.Millisecond)) {
		t.Fatalf("lost %v after the acquire (server expiry %v after): %v", lost.Sub(sent), expires.Sub(sent), lease.Err())
	}
	s.p.Signal(syscall.SIGCONT)
	if err := lease.Release(c); err != nil {
		t.Fatalf("release of a lost lease: %v", err)
	}
}

func TestConformance_C10_UnknownOutcome(t *testing.T) {
	s := startConf(t)
	proxy := apitest.StartProxy(t, s.hostPort())
	alice, c := s.client(t, aliceTok), ctx(t)
	viaProxy := clientVia(t, "http://"+proxy.Addr, s.p.Addr, aliceTok)
	acquires := func() (ok, all int) {
		for _, code := range []string{"200", "409", "429", "503"} {
			n := s.metric(t, code, "POST", "/locks/{name}/acquire")
			all += n
			if code == "200" {
				ok = n
			}
		}
		return ok, all
	}

	ok0, all0 := acquires()
	proxy.DropNextAnswer()
	_, err := viaProxy.Acquire(c, "c10/lock", client.AcquireOptions{TTL: 30 * time.Second})
	if !errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatalf("acquire with its answer dropped: %v", err)
	}
	if ok1, all1 := acquires(); ok1 != ok0+1 || all1 != all0+1 {
		t.Fatalf("acquires answered: %d ok of %d, want 1 of 1 (not repeated)", ok1-ok0, all1-all0)
	}
	st := status(t, alice, "c10/lock")
	if !st.Held || st.Holder != "alice" {
		t.Fatalf("the acquire was applied: %+v", st)
	}

	proxy.DropNextAnswer()
	if err := viaProxy.Release(c, "c10/lock", st.LeaseID); err != nil {
		t.Fatalf("release with its answer dropped: %v", err)
	}
	if st := status(t, alice, "c10/lock"); st.Held {
		t.Fatalf("after the release: %+v", st)
	}

	// Go's Hold leaves resolving an unknown outcome to the caller.
	proxy.DropNextAnswer()
	_, err = viaProxy.Hold(c, "c10/helper", client.LeaseOptions{TTL: 30 * time.Second})
	if !errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatalf("hold with its answer dropped: %v", err)
	}
	st = status(t, alice, "c10/helper")
	if !st.Held || st.Holder != "alice" {
		t.Fatalf("the helper's acquire was applied: %+v", st)
	}
	if err := alice.Release(c, "c10/helper", st.LeaseID); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := (&url.URL{Scheme: "http", Host: ln.Addr().String()}).String()
	ln.Close()
	_, err = plain(t, closed, aliceTok, confRetry).Acquire(c, "c10/never", client.AcquireOptions{TTL: time.Minute})
	if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatalf("acquire that never left: %v", err)
	}
}

func TestConformance_C11_RateLimitBackoff(t *testing.T) {
	s := startConf(t, "--rate-limit", "1", "--rate-burst", "2")
	alice, bob, c := s.client(t, aliceTok), s.client(t, bobTok), ctx(t)
	once := plain(t, s.p.Addr, aliceTok, client.Retry{Attempts: 1})
	// Spend the burst: read until refused.
	for i := 0; ; i++ {
		_, err := once.Get(c, "c11/x", client.GetOptions{})
		if errors.Is(err, client.ErrRateLimited) {
			break
		}
		if err != nil || i > 10 {
			t.Fatalf("spending the burst: %v after %d reads", err, i)
		}
	}
	ok0, lim0 := s.metric(t, "200", "POST", "/locks/{name}/acquire"), s.metric(t, "429", "POST", "/locks/{name}/acquire")
	_, err := alice.Acquire(c, "c11/lock", client.AcquireOptions{TTL: 30 * time.Second})
	if !errors.Is(err, client.ErrRateLimited) {
		t.Fatalf("acquire over the limit: %v", err)
	}
	if e := apiErr(t, err, 429, "rate_limited"); e.RetryAfter != time.Second {
		t.Fatalf("Retry-After %v, want 1s", e.RetryAfter)
	}
	if ok, lim := s.metric(t, "200", "POST", "/locks/{name}/acquire"), s.metric(t, "429", "POST", "/locks/{name}/acquire"); ok != ok0 || lim != lim0+1 {
		t.Fatalf("acquire answered %d ok and %d 429, want 0 and 1 (not repeated)", ok-ok0, lim-lim0)
	}

	lim0 = s.metric(t, "429", "GET", "/locks/{name}")
	start := time.Now()
	st, err := alice.Get(c, "c11/x", client.GetOptions{})
	took := time.Since(start)
	if err != nil || st.Status != "available" || took < 900*time.Millisecond {
		t.Fatalf("read over the limit: %+v %v after %v", st, err, took)
	}
	if lim := s.metric(t, "429", "GET", "/locks/{name}"); lim <= lim0 {
		t.Fatal("the read was never refused: nothing was backed off")
	}
	if l, err := bob.Acquire(c, "c11/lock", client.AcquireOptions{TTL: 30 * time.Second}); err != nil || l.Status != "acquired" {
		t.Fatalf("bob: %+v %v", l, err)
	}
}

func TestConformance_C12_TokensAndWebhooks(t *testing.T) {
	s := startConf(t, "--webhook-allow-private")
	alice, c := s.client(t, aliceTok), ctx(t)
	tok, err := alice.CreateToken(c, client.TokenOptions{Name: "c12-ci", Prefixes: []string{"c12/"}, TTL: time.Hour})
	if err != nil || tok.Token == "" || tok.ID == "" || tok.Access != "write" || len(tok.Prefixes) != 1 ||
		tok.Prefixes[0] != "c12/" || tok.ExpiresAt == nil {
		t.Fatalf("create token: %+v %v", tok, err)
	}
	scoped := s.client(t, tok.Token)
	if l, err := scoped.Acquire(c, "c12/ok", client.AcquireOptions{TTL: time.Minute}); err != nil || l.Status != "acquired" || l.Holder != "alice" {
		t.Fatalf("scoped acquire: %+v %v", l, err)
	}
	_, err = scoped.Acquire(c, "other/x", client.AcquireOptions{TTL: time.Minute})
	if !errors.Is(err, client.ErrTokenScope) || !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("outside the scope: %v", err)
	}
	apiErr(t, err, 403, "token_scope")
	list, err := alice.ListTokens(c, false)
	if err != nil {
		t.Fatal(err)
	}
	var found, current bool
	for _, ti := range list {
		found = found || (ti.ID == tok.ID && ti.Name == "c12-ci")
		current = current || (ti.Current && ti.Source == "static" && ti.Login == "alice")
	}
	if !found || !current {
		t.Fatalf("token list: %+v", list)
	}
	if err := alice.RevokeToken(c, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := scoped.List(c, client.ListOptions{Prefix: "c12/"}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("revoked token: %v", err)
	}

	w, err := alice.AddWebhook(c, client.WebhookOptions{URL: "https://127.0.0.1:9/hook",
		Events: []string{"acquired", "released"}, LockPattern: "c12/**"})
	if err != nil || w.ID == "" || !w.Active || w.Secret != nil {
		t.Fatalf("add webhook: %+v %v", w, err)
	}
	has := func() bool {
		ws, err := alice.ListWebhooks(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ws {
			if x.ID == w.ID {
				return true
			}
		}
		return false
	}
	if !has() {
		t.Fatal("webhook not listed")
	}
	if err := alice.DeleteWebhook(c, w.ID); err != nil {
		t.Fatal(err)
	}
	if has() {
		t.Fatal("deleted webhook still listed")
	}
	if err := alice.DeleteWebhook(c, w.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
}

func holderIDs(st *client.LockStatus) []string {
	var ids []string
	for _, h := range st.Holders {
		ids = append(ids, h.LeaseID)
	}
	return ids
}

func TestConformance_C13_SemaphoreSlots(t *testing.T) {
	s := startConf(t)
	alice, bob, c := s.client(t, aliceTok), s.client(t, bobTok), ctx(t)
	lease, err := alice.Semaphore("c13/pool", 2).Hold(c, client.LeaseOptions{TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(context.Background())
	if l := lease.Lock(); l.Limit != 2 || l.Mode != client.Exclusive {
		t.Fatalf("helper's slot: %+v", l)
	}
	second, err := alice.Acquire(c, "c13/pool", client.AcquireOptions{TTL: 30 * time.Second, Limit: 2})
	if err != nil || second.Status != "acquired" || second.LeaseID == lease.LeaseID() ||
		second.FencingToken <= lease.FencingToken() || second.Limit != 2 {
		t.Fatalf("second slot: %+v %v", second, err)
	}
	_, err = bob.Acquire(c, "c13/pool", client.AcquireOptions{TTL: 30 * time.Second, Limit: 2})
	apiErr(t, err, 409, "lock_held")
	if !errors.Is(err, client.ErrLockHeld) || errors.Is(err, client.ErrLimitMismatch) {
		t.Fatalf("full: %v", err)
	}
	_, err = bob.Acquire(c, "c13/pool", client.AcquireOptions{TTL: 30 * time.Second, Limit: 3})
	if e := apiErr(t, err, 409, "limit_mismatch"); !errors.Is(err, client.ErrLimitMismatch) || e.Limit != 2 {
		t.Fatalf("mismatch: %v (limit %d)", err, e.Limit)
	}
	st := status(t, alice, "c13/pool")
	if !st.Held || st.Limit != 2 || st.Mode != client.Exclusive ||
		!slices.Equal(holderIDs(st), []string{lease.LeaseID(), second.LeaseID}) {
		t.Fatalf("status: %+v", st)
	}
	bobCh := acquireAsync(c, bob, "c13/pool", client.AcquireOptions{TTL: 30 * time.Second, Limit: 2, Wait: 10 * time.Second})
	waitFor(t, alice, "c13/pool", "bob queued", func(st *client.LockStatus) bool { return st.Waiters == 1 })
	if err := alice.Release(c, "c13/pool", second.LeaseID); err != nil {
		t.Fatal(err)
	}
	var lb acquired
	select {
	case lb = <-bobCh:
	case <-time.After(10 * time.Second):
		t.Fatal("bob was not granted a slot")
	}
	if lb.err != nil || lb.l.Status != "acquired" || lb.l.Holder != "bob" || lb.l.FencingToken <= second.FencingToken {
		t.Fatalf("bob: %+v %v", lb.l, lb.err)
	}
	if err := lease.Release(c); err != nil {
		t.Fatal(err)
	}
	if st := status(t, alice, "c13/pool"); !slices.Equal(holderIDs(st), []string{lb.l.LeaseID}) {
		t.Fatalf("after the helper's release: %+v", st)
	}
}

func TestConformance_C14_ReadWrite(t *testing.T) {
	s := startConf(t)
	alice, bob, carol, c := s.client(t, aliceTok), s.client(t, bobTok), s.client(t, carolTok), ctx(t)
	ra, err := alice.RWLock("c14/cfg").HoldShared(c, client.LeaseOptions{TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Release(context.Background())
	rb, err := bob.RWLock("c14/cfg").HoldShared(c, client.LeaseOptions{TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release(context.Background())
	if ra.Lock().Mode != client.Shared || rb.Lock().Mode != client.Shared || rb.FencingToken() <= ra.FencingToken() {
		t.Fatalf("readers: %+v %+v", ra.Lock(), rb.Lock())
	}
	if st := status(t, alice, "c14/cfg"); st.Mode != client.Shared ||
		!slices.Equal(holderIDs(st), []string{ra.LeaseID(), rb.LeaseID()}) {
		t.Fatalf("status: %+v", st)
	}
	writerCh := acquireAsync(c, carol, "c14/cfg", client.AcquireOptions{TTL: 30 * time.Second, Wait: 30 * time.Second})
	waitFor(t, alice, "c14/cfg", "writer queued", func(st *client.LockStatus) bool { return st.Waiters == 1 })
	sess, err := alice.StartSession(c, client.SessionOptions{TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = alice.Acquire(c, "c14/cfg", client.AcquireOptions{TTL: 30 * time.Second, Mode: client.Shared, SessionID: sess.ID()})
	apiErr(t, err, 409, "lock_held")
	if err := sess.Close(c); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-writerCh:
		t.Fatalf("the writer answered while readers held: %+v %v", r.l, r.err)
	default:
	}
	if err := ra.Release(c); err != nil {
		t.Fatal(err)
	}
	if err := rb.Release(c); err != nil {
		t.Fatal(err)
	}
	var w acquired
	select {
	case w = <-writerCh:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer was not granted the lock")
	}
	if w.err != nil || w.l.Status != "acquired" || w.l.Holder != "carol" || w.l.FencingToken <= rb.FencingToken() {
		t.Fatalf("writer: %+v %v", w.l, w.err)
	}
	start := time.Now()
	_, err = bob.Acquire(c, "c14/cfg", client.AcquireOptions{TTL: 30 * time.Second, Mode: client.Shared, Wait: time.Second})
	if !errors.Is(err, client.ErrLockHeld) || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("reader behind the writer: %v after %v", err, time.Since(start))
	}
}

func TestConformance_C15_Election(t *testing.T) {
	s := startConf(t)
	alice, bob, c := s.client(t, aliceTok), s.client(t, bobTok), ctx(t)
	if st, err := alice.GetElection(c, "c15/leader", client.GetOptions{}); err != nil || st.Elected || st.Status != "vacant" {
		t.Fatalf("first read: %+v %v", st, err)
	}
	var mu sync.Mutex
	var seen []client.ElectionStatus
	obsCtx, stop := context.WithCancel(c)
	observed := make(chan error, 1)
	go func() {
		observed <- bob.Election("c15/leader").Observe(obsCtx, func(st client.ElectionStatus) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, st)
			return nil
		})
	}()
	defer func() { stop(); <-observed }()
	sees := func(elected bool, leader, value string) {
		t.Helper()
		if !poll.Wait(10*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 {
				return false
			}
			l := seen[len(seen)-1]
			return l.Elected == elected && (!elected || l.Leader == leader && l.Value == value)
		}) {
			t.Fatalf("the observer never saw elected=%v %s %q; saw %+v", elected, leader, value, seen)
		}
	}
	sees(false, "", "")
	a, err := alice.Campaign(c, "c15/leader", client.CampaignOptions{TTL: 30 * time.Second, Value: "a:1"})
	if err != nil || a.Status != "leader" || a.Leader != "alice" || a.Value != "a:1" || a.LeaseID == "" || a.Term == 0 {
		t.Fatalf("campaign: %+v %v", a, err)
	}
	sees(true, "alice", "a:1")
	again, err := alice.Campaign(c, "c15/leader", client.CampaignOptions{TTL: 30 * time.Second})
	if err != nil || again.LeaseID != a.LeaseID || again.Term != a.Term || again.Value != "a:1" {
		t.Fatalf("re-campaign: %+v %v", again, err)
	}
	_, err = bob.Campaign(c, "c15/leader", client.CampaignOptions{TTL: 30 * time.Second})
	if held, ok := client.HeldBy(err); !errors.Is(err, client.ErrLockHeld) || !ok || held.Holder != "alice" {
		t.Fatalf("bob's campaign: %v", err)
	}
	if p, err := alice.Proclaim(c, "c15/leader", a.LeaseID, "a:2"); err != nil || p.Value != "a:2" {
		t.Fatalf("proclaim: %+v %v", p, err)
	}
	sees(true, "alice", "a:2")
	if _, err := alice.Proclaim(c, "c15/leader", "00000000-0000-4000-8000-000000000000", "x"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("proclaim with another lease: %v", err)
	}
	type campaigned struct {
		st  *client.ElectionStatus
		err error
	}
	bobCh := make(chan campaigned, 1)
	go func() {
		st, err := bob.Campaign(c, "c15/leader", client.CampaignOptions{TTL: 30 * time.Second, Value: "b:1", Wait: 30 * time.Second})
		bobCh <- campaigned{st, err}
	}()
	if !poll.Wait(10*time.Second, func() bool {
		st, err := alice.GetElection(c, "c15/leader", client.GetOptions{})
		return err == nil && st.Waiting == 1
	}) {
		t.Fatal("bob never waited")
	}
	if err := alice.Resign(c, "c15/leader", a.LeaseID); err != nil {
		t.Fatal(err)
	}
	var b campaigned
	select {
	case b = <-bobCh:
	case <-time.After(10 * time.Second):
		t.Fatal("bob was not elected")
	}
	if b.err != nil || b.st.Leader != "bob" || b.st.Term <= a.Term || b.st.Value != "b:1" {
		t.Fatalf("bob: %+v %v", b.st, b.err)
	}
	sees(true, "bob", "b:1")
	if err := bob.Resign(c, "c15/leader", b.st.LeaseID); err != nil {
		t.Fatal(err)
	}
	if st, err := alice.GetElection(c, "c15/leader", client.GetOptions{}); err != nil || st.Elected {
		t.Fatalf("after bob resigned: %+v %v", st, err)
	}
	sees(false, "", "")

	// 8. The leadership helper.
	leader, err := alice.Election("c15/kept").Campaign(c, client.CampaignOptions{TTL: 2 * time.Second, Value: "k"})
	if err != nil || leader.Status().Value != "k" {
		t.Fatalf("helper: %v", err)
	}
	for start := time.Now(); time.Since(start) < 3500*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		st, err := alice.GetElection(c, "c15/kept", client.GetOptions{})
		if err != nil || !st.Elected || st.LeaseID != leader.LeaseID() || st.Term != leader.Term() || st.Leader != "alice" {
			t.Fatalf("kept leadership: %+v %v", st, err)
		}
	}
	if err := leader.Err(); err != nil {
		t.Fatalf("the helper lost its leadership: %v", err)
	}
	if err := leader.Resign(c); err != nil {
		t.Fatal(err)
	}
	if st, err := alice.GetElection(c, "c15/kept", client.GetOptions{}); err != nil || st.Elected {
		t.Fatalf("after the helper resigned: %+v %v", st, err)
	}
}
