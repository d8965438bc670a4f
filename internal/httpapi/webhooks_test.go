package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/webhook"
)

type hookResp struct {
	ID             string
	URL            string
	Secret         *string
	Events         []string
	LockPattern    *string `json:"lock_pattern"`
	Active         bool
	FailingSince   *time.Time `json:"failing_since"`
	InactiveReason *string    `json:"inactive_reason"`
}

// fastRetries keeps retry tests short; production waits seconds.
func fastRetries(c *webhook.Config) {
	c.RetryMin, c.RetryMax, c.AckInterval, c.Timeout = 20*time.Millisecond, 100*time.Millisecond, 20*time.Millisecond, time.Second
}

// startWithWebhooks runs a server whose webhooks may target loopback
// receivers (whose CA it trusts).
func startWithWebhooks(t *testing.T, dir string, tweak func(*webhook.Config)) (*server.Server, *apitest.Client) {
	t.Helper()
	pool := apitest.NewReceiver(t).Roots()
	srv := apitest.StartServerWith(t, dir, func(c *server.Config) {
		c.Webhooks = webhook.Config{AllowPrivate: true, RootCAs: pool}
		fastRetries(&c.Webhooks)
		if tweak != nil {
			tweak(&c.Webhooks)
		}
	})
	return srv, apitest.New(t, "http://"+srv.Addr())
}

func addHook(t *testing.T, c *apitest.Client, token string, b body) hookResp {
	t.Helper()
	r := c.Do("POST", "/webhooks", token, b)
	wantStatus(t, r, http.StatusCreated)
	var h hookResp
	r.JSON(t, &h)
	return h
}

func TestWebhooks_Registration(t *testing.T) {
	_, c := startWithWebhooks(t, "", nil)
	rcv := apitest.NewReceiver(t)
	h := addHook(t, c, alice, body{"url": rcv.URL + "/hook", "secret": "s3cret"})
	if *h.Secret != "****" || len(h.Events) != 1 || h.Events[0] != "*" || h.LockPattern != nil || !h.Active {
		t.Fatalf("created %+v", h)
	}
	plain := addHook(t, c, alice, body{"url": rcv.URL, "events": []string{"released", "acquired"}, "lock_pattern": "svc/**"})
	if plain.Secret != nil || *plain.LockPattern != "svc/**" || strings.Join(plain.Events, ",") != "acquired,released" {
		t.Fatalf("created %+v", plain)
	}
	var mine, bobs []hookResp
	c.Do("GET", "/webhooks", alice, nil).JSON(t, &mine)
	c.Do("GET", "/webhooks", bob, nil).JSON(t, &bobs)
	if len(mine) != 2 || len(bobs) != 0 {
		t.Fatalf("alice sees %d, bob sees %d", len(mine), len(bobs))
	}
	wantError(t, c.Do("DELETE", "/webhooks/"+h.ID, bob, nil), http.StatusNotFound, "webhook_not_found")
	wantStatus(t, c.Do("DELETE", "/webhooks/"+h.ID, alice, nil), http.StatusNoContent)
	wantError(t, c.Do("DELETE", "/webhooks/"+h.ID, alice, nil), http.StatusNotFound, "webhook_not_found")
	wantError(t, c.Raw("DELETE", "/webhooks/nope", alice, nil), http.StatusUnprocessableEntity, "validation_error")
	for i := 0; i < 9; i++ {
		addHook(t, c, alice, body{"url": rcv.URL})
	}
	wantError(t, c.Do("POST", "/webhooks", alice, body{"url": rcv.URL}), http.StatusBadRequest, "too_many_webhooks")
	for name, bad := range map[string]string{
		"HTTP":            `{"url": "http://example.com/h"}`,
		"NoURL":           `{"events": ["*"]}`,
		"NotAURL":         `{"url": "https//x"}`,
		"UnknownEvent":    `{"url": "https://example.com", "events": ["deleted"]}`,
		"NoEvents":        `{"url": "https://example.com", "events": []}`,
		"BadPattern":      `{"url": "https://example.com", "lock_pattern": "a//b"}`,
		"StarStarInAWord": `{"url": "https://example.com", "lock_pattern": "a**"}`,
		"BadJSON":         `{"url": `,
		"UnknownField":    `{"url": "https://example.com", "uri": "x"}`,
		"Credentials":     `{"url": "https://user:pw@example.com"}`,
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, c.Raw("POST", "/webhooks", bob, []byte(bad)), http.StatusBadRequest, "bad_request")
		})
	}
}

// stubResolver answers name lookups from a table the test can change.
type stubResolver struct {
	mu    sync.Mutex
	addrs map[string]string
}

func (s *stubResolver) set(host, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs[host] = addr
}

func (s *stubResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.addrs[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

func TestWebhooks_SSRF(t *testing.T) {
	resolver := &stubResolver{addrs: map[string]string{"loopback.test": "127.0.0.1", "public.test": "93.184.216.34"}}
	_, c := startWithWebhooks(t, "", func(w *webhook.Config) { w.AllowPrivate = false; w.Resolver = resolver })
	for _, target := range []string{
		"https://127.0.0.1/h", "https://127.1.2.3:8443/h", "https://[::1]/h", "https://10.1.2.3/h",
		"https://172.16.0.1/h", "https://192.168.1.1/h", "https://169.254.169.254/latest/meta-data",
		"https://100.64.0.1/h", "https://224.0.0.1/h", "https://0.0.0.0/h", "https://[::ffff:127.0.0.1]/h",
		"https://[fe80::1]/h", "https://[fc00::1]/h", "https://localhost/h", "https://LOCALHOST:443/h",
		"https://api.localhost/h", "https://loopback.test/h",
		// Special-purpose ranges beyond the private ones, IPv4 inside IPv6
		// (NAT64, 6to4, compatible), and IPv4 in other notations.
		"https://[64:ff9b::a9fe:a9fe]/", "https://[2002:7f00:1::]/", "https://[::127.0.0.1]/",
		"https://198.18.0.1/", "https://192.0.0.192/", "https://240.0.0.1/", "https://203.0.113.10/",
		"https://[fd00::1]/", "https://2130706433/", "https://127.1/",
	} {
		e := wantError(t, c.Do("POST", "/webhooks", alice, body{"url": target}), http.StatusBadRequest, "bad_request")
		if !strings.Contains(e.Error, "webhook") {
			t.Errorf("%s: %q", target, e.Error)
		}
	}
	// Public literals need no DNS; each is deleted before any event exists,
	// so nothing is ever sent to them.
	for _, target := range []string{"https://8.8.8.8/h", "https://[2606:4700::1111]/h"} {
		h := addHook(t, c, bob, body{"url": target})
		wantStatus(t, c.Do("DELETE", "/webhooks/"+h.ID, bob, nil), http.StatusNoContent)
	}
	// A name that resolves to a public address is accepted, but when it
	// resolves to loopback at delivery time, nothing is sent there.
	rcv := apitest.NewReceiver(t)
	h := addHook(t, c, alice, body{"url": "https://public.test:" + rcv.URL[strings.LastIndexByte(rcv.URL, ':')+1:] + "/h"})
	resolver.set("public.test", "127.0.0.1")
	mustAcquire(t, c, "rebound", alice, 30)
	poll.Until(t, 5*time.Second, "the refused delivery is recorded as failing", func() bool {
		var hooks []hookResp
		c.Do("GET", "/webhooks", alice, nil).JSON(t, &hooks)
		return hooks[0].ID == h.ID && hooks[0].FailingSince != nil
	})
	if n := len(rcv.Attempts()); n != 0 {
		t.Fatalf("the receiver on loopback got %d requests", n)
	}
}

func TestWebhooks_DeliverySignedAndOrdered(t *testing.T) {
	_, c := startWithWebhooks(t, "", nil)
	rcv := apitest.NewReceiver(t)
	addHook(t, c, alice, body{"url": rcv.URL + "/hook", "secret": "s3cret"})
	l := mustAcquire(t, c, "svc/db", alice, 30)
	wantStatus(t, c.Do("POST", "/locks/svc/db/renew", alice, body{"lease_id": l.LeaseID, "ttl_seconds": 60}), http.StatusOK)
	wantStatus(t, c.Do("POST", "/locks/svc/db/release", alice, body{"lease_id": l.LeaseID}), http.StatusOK)
	got := rcv.WaitFor(t, 3, 5*time.Second)
	for i, want := range []string{"acquired", "renewed", "released"} {
		d := got[i]
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(d.Body)
		if sig := "sha256=" + hex.EncodeToString(mac.Sum(nil)); d.Header.Get("X-OctoStore-Signature") != sig {
			t.Fatalf("signature %q, want %q over %s", d.Header.Get("X-OctoStore-Signature"), sig, d.Body)
		}
		if d.Payload.Event != want || d.Header.Get("X-OctoStore-Event") != want || d.Payload.Lock != "svc/db" ||
			d.Payload.FencingToken != l.FencingToken || d.Payload.HolderID == uuid.Nil || d.Payload.Timestamp.IsZero() {
			t.Fatalf("delivery %d: %s %v", i, d.Body, d.Header)
		}
		if d.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(d.Header.Get("User-Agent"), "OctoStore-Webhook/") {
			t.Fatalf("headers %v", d.Header)
		}
		if _, err := uuid.Parse(d.Header.Get("X-OctoStore-Delivery")); err != nil {
			t.Fatalf("delivery id %q", d.Header.Get("X-OctoStore-Delivery"))
		}
	}
}

func TestWebhooks_Filters(t *testing.T) {
	_, c := startWithWebhooks(t, "", nil)
	rcv := apitest.NewReceiver(t)
	addHook(t, c, alice, body{"url": rcv.URL, "events": []string{"released"}, "lock_pattern": "svc/*"})
	everything := apitest.NewReceiver(t)
	addHook(t, c, bob, body{"url": everything.URL}) // bob's webhook sees alice's locks too
	for _, name := range []string{"svc/a", "other/b", "svc/a/b", "svc/z"} {
		l := mustAcquire(t, c, name, alice, 30)
		wantStatus(t, c.Do("POST", "/locks/"+name+"/release", alice, body{"lease_id": l.LeaseID}), http.StatusOK)
	}
	everything.WaitFor(t, 8, 5*time.Second)
	// Deliveries are in order, so once svc/z's release is in, nothing
	// that should have been filtered out can still come before it.
	got := rcv.WaitFor(t, 2, 5*time.Second)
	if len(got) != 2 || got[0].Payload.Lock != "svc/a" || got[1].Payload.Lock != "svc/z" || got[0].Payload.Event != "released" {
		t.Fatalf("filtered deliveries %v", got)
	}
}

// TestWebhooks_RetriesKeepOrderAndIDs: a receiver that fails (500s, then a
// timeout, then down for a while) still gets every event, in order, each
// with the same delivery ID on every attempt.
func TestWebhooks_RetriesKeepOrderAndIDs(t *testing.T) {
	_, c := startWithWebhooks(t, "", func(w *webhook.Config) { w.Timeout = 200 * time.Millisecond })
	rcv := apitest.NewReceiver(t)
	rcv.Set(func(r *apitest.Receiver) { r.FailN = 3 })
	addHook(t, c, alice, body{"url": rcv.URL})
	mustAcquire(t, c, "retry/0", alice, 60)
	rcv.WaitFor(t, 1, 5*time.Second)
	rcv.Set(func(r *apitest.Receiver) { r.Delay = 400 * time.Millisecond })
	mustAcquire(t, c, "retry/1", alice, 60)
	poll.Until(t, 5*time.Second, "a timed-out attempt", func() bool { return len(rcv.Attempts()) >= 5 })
	rcv.Set(func(r *apitest.Receiver) { r.Delay, r.Status = 0, http.StatusServiceUnavailable }) // down
	for i := 2; i < 20; i++ {
		mustAcquire(t, c, "retry/"+string(rune('a'+i)), alice, 60)
	}
	poll.Until(t, 5*time.Second, "attempts while down", func() bool { return len(rcv.Attempts()) >= 8 })
	rcv.Set(func(r *apitest.Receiver) { r.Status = 0 })
	got := rcv.WaitFor(t, 20, 10*time.Second)
	ids := map[string]string{} // delivery id → lock
	for i, d := range got[:20] {
		if i > 0 && d.Payload.Lock <= got[i-1].Payload.Lock && i != 2 {
			t.Fatalf("out of order: %s after %s", d.Payload.Lock, got[i-1].Payload.Lock)
		}
		ids[d.Header.Get("X-OctoStore-Delivery")] = d.Payload.Lock
	}
	for _, a := range rcv.Attempts() {
		if lock, ok := ids[a.Header.Get("X-OctoStore-Delivery")]; !ok || lock != a.Payload.Lock {
			t.Fatalf("attempt for %s had delivery id %s, not the one it was finally accepted with", a.Payload.Lock, a.Header.Get("X-OctoStore-Delivery"))
		}
	}
}

func TestWebhooks_SlowReceiverDelaysNobodyElse(t *testing.T) {
	_, c := startWithWebhooks(t, "", func(w *webhook.Config) { w.Timeout = 5 * time.Second })
	slow, fast := apitest.NewReceiver(t), apitest.NewReceiver(t)
	slow.Set(func(r *apitest.Receiver) { r.Delay = 3 * time.Second })
	addHook(t, c, alice, body{"url": slow.URL})
	addHook(t, c, bob, body{"url": fast.URL})
	start := time.Now()
	for i := range 5 {
		mustAcquire(t, c, "busy/"+string(rune('a'+i)), alice, 60)
	}
	// Delivery in line with the acquires would take the receiver's 3 s.
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("5 acquires took %v behind a slow receiver", took)
	}
	fast.WaitFor(t, 5, 2*time.Second)
}

func TestWebhooks_DeactivatedAfterFailureWindow(t *testing.T) {
	_, c := startWithWebhooks(t, "", func(w *webhook.Config) { w.FailureWindow = 300 * time.Millisecond })
	rcv := apitest.NewReceiver(t)
	rcv.Set(func(r *apitest.Receiver) { r.Status = http.StatusInternalServerError })
	h := addHook(t, c, alice, body{"url": rcv.URL})
	mustAcquire(t, c, "doomed", alice, 60)
	var hooks []hookResp
	poll.Until(t, 5*time.Second, "deactivation", func() bool {
		c.Do("GET", "/webhooks", alice, nil).JSON(t, &hooks)
		return !hooks[0].Active
	})
	if hooks[0].ID != h.ID || hooks[0].InactiveReason == nil || !strings.Contains(*hooks[0].InactiveReason, "failed for") {
		t.Fatalf("deactivated webhook %+v", hooks[0])
	}
	n := len(rcv.Attempts())
	rcv.Set(func(r *apitest.Receiver) { r.Status = 0 })
	mustAcquire(t, c, "after", alice, 60)
	mustAcquire(t, c, "after2", alice, 60)
	if got := len(rcv.Attempts()); got > n+1 { // at most the attempt in flight at deactivation
		t.Fatalf("an inactive webhook still received %d requests", got-n)
	}
}

func TestWebhooks_DeleteStopsDelivery(t *testing.T) {
	_, c := startWithWebhooks(t, "", nil)
	rcv := apitest.NewReceiver(t)
	rcv.Set(func(r *apitest.Receiver) { r.Status = http.StatusServiceUnavailable })
	h := addHook(t, c, alice, body{"url": rcv.URL})
	mustAcquire(t, c, "gone", alice, 60)
	poll.Until(t, 5*time.Second, "a failed attempt", func() bool { return len(rcv.Attempts()) > 0 })
	wantStatus(t, c.Do("DELETE", "/webhooks/"+h.ID, alice, nil), http.StatusNoContent)
	// An attempt that began before the DELETE was answered may still
	// arrive; none may begin after it.
	before := len(rcv.Attempts())
	control := apitest.NewReceiver(t)
	control.Set(func(r *apitest.Receiver) { r.Status = http.StatusServiceUnavailable })
	addHook(t, c, alice, body{"url": control.URL})
	mustAcquire(t, c, "later", alice, 60)
	// Deliveries go on for others: a webhook failing alongside is retried
	// three times, time enough for the deleted one to have been retried too.
	poll.Until(t, 5*time.Second, "three attempts at the control webhook", func() bool { return len(control.Attempts()) >= 3 })
	if after := len(rcv.Attempts()); after > before+1 {
		t.Fatalf("a deleted webhook got %d more attempts", after-before)
	}
}

// TestWebhooks_SurviveRestart: events not yet delivered when the server
// stops are delivered after it starts again.
func TestWebhooks_SurviveRestart(t *testing.T) {
	dir := t.TempDir()
	srv, c := startWithWebhooks(t, dir, nil)
	rcv := apitest.NewReceiver(t)
	rcv.Set(func(r *apitest.Receiver) { r.Status = http.StatusServiceUnavailable })
	addHook(t, c, alice, body{"url": rcv.URL})
	for i := range 5 {
		mustAcquire(t, c, "restart/"+string(rune('a'+i)), alice, 60)
	}
	srv.Shutdown(t.Context())
	rcv.Set(func(r *apitest.Receiver) { r.Status = 0 })
	startWithWebhooks(t, dir, nil)
	got := rcv.WaitFor(t, 5, 10*time.Second)
	for i, d := range got[:5] {
		if d.Payload.Lock != "restart/"+string(rune('a'+i)) {
			t.Fatalf("delivery %d is %s", i, d.Payload.Lock)
		}
	}
}
