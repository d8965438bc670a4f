package client_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
)

func TestLocks_RoundTrip(t *testing.T) {
	_, alice, _ := start(t)
	c := ctx(t)
	l, err := alice.Acquire(c, "jobs/report", client.AcquireOptions{TTL: 30 * time.Second, Metadata: "nightly"})
	if err != nil || l.Status != "acquired" || l.Holder != "alice" || l.FencingToken == 0 || l.LeaseID == "" {
		t.Fatalf("acquire: %+v %v", l, err)
	}
	again, err := alice.Acquire(c, "jobs/report", client.AcquireOptions{TTL: 30 * time.Second})
	if err != nil || again.Status != "held" || again.LeaseID != l.LeaseID || again.FencingToken != l.FencingToken {
		t.Fatalf("re-acquire: %+v %v", again, err)
	}
	st, err := alice.Get(c, "jobs/report", client.GetOptions{})
	if err != nil || !st.Held || st.Holder != "alice" || st.LeaseID != l.LeaseID || st.Metadata != "nightly" || st.Index == 0 {
		t.Fatalf("get: %+v %v", st, err)
	}
	if _, err := alice.Acquire(c, "jobs/other", client.AcquireOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	page, err := alice.List(c, client.ListOptions{Prefix: "jobs/", Limit: 1})
	if err != nil || page.Total != 1 || page.Locks[0].Name != "jobs/other" || page.NextAfter == nil {
		t.Fatalf("list page: %+v %v", page, err)
	}
	all, err := alice.ListAll(c, "jobs/")
	if err != nil || len(all) != 2 || all[1].Name != "jobs/report" || all[1].Holder != "alice" {
		t.Fatalf("list all: %+v %v", all, err)
	}
	r, err := alice.Renew(c, "jobs/report", l.LeaseID, time.Hour)
	if err != nil || !r.ExpiresAt.After(l.ExpiresAt.Add(30*time.Minute)) {
		t.Fatalf("renew: %+v %v", r, err)
	}
	if err := alice.Release(c, "jobs/report", l.LeaseID); err != nil {
		t.Fatal(err)
	}
	st, err = alice.Get(c, "jobs/report", client.GetOptions{})
	if err != nil || st.Held || st.Status != "available" {
		t.Fatalf("after release: %+v %v", st, err)
	}
	if err := alice.Health(c); err != nil {
		t.Fatal(err)
	}
	cl, err := alice.Cluster(c)
	if err != nil || cl.Leader == "" || len(cl.Nodes) != 1 {
		t.Fatalf("cluster: %+v %v", cl, err)
	}
}

func TestGet_Blocking(t *testing.T) {
	_, alice, bob := start(t)
	c := ctx(t)
	l, err := alice.Acquire(c, "blocking", client.AcquireOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	st, err := bob.Get(c, "blocking", client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan *client.LockStatus, 1)
	go func() {
		st, err := bob.Get(c, "blocking", client.GetOptions{Index: st.Index, Wait: 20 * time.Second})
		if err != nil {
			t.Error(err)
		}
		changed <- st
	}()
	if err := alice.Release(c, "blocking", l.LeaseID); err != nil {
		t.Fatal(err)
	}
	select {
	case st2 := <-changed:
		if st2 == nil || st2.Held || st2.Index <= st.Index {
			t.Fatalf("blocking read after release: %+v", st2)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking read did not return after the change")
	}
}

func TestErrors_Typed(t *testing.T) {
	srv, alice, bob := start(t)
	c := ctx(t)
	l, err := alice.Acquire(c, "db/primary", client.AcquireOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.Acquire(c, "db/primary", client.AcquireOptions{TTL: time.Minute})
	var api *client.APIError
	if !errors.Is(err, client.ErrLockHeld) || !errors.As(err, &api) || api.StatusCode != http.StatusConflict ||
		api.Code != "lock_held" || api.RequestID == "" {
		t.Fatalf("conflict: %v", err)
	}
	if h, ok := client.HeldBy(err); !ok || h.Holder != "alice" || h.Name != "db/primary" || !h.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("holder: %+v %v", h, ok)
	}
	if _, err := bob.Renew(c, "db/primary", l.LeaseID, time.Minute); !errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrLockHeld) {
		t.Fatalf("renew of another's lease: %v", err)
	}
	if err := bob.Release(c, "db/primary", l.LeaseID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("release of another's lease: %v", err)
	}
	unchecked, _ := client.New("http://"+srv.Addr(), apitest.AliceToken) // sends what the spec forbids
	if _, err := unchecked.Acquire(c, "db/x", client.AcquireOptions{TTL: 2 * time.Hour}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("ttl 2h: %v", err)
	}
	stranger := newClient(t, srv.Addr(), "no-such-token-0123456789")
	if _, err := stranger.List(c, client.ListOptions{}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("bad token: %v", err)
	}
	if _, err := alice.ListTokens(c, true); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("all tokens as a user: %v", err)
	}
	s, err := alice.CreateSession(c, 10*time.Second)
	if err != nil || s.KeepaliveIntervalSecs != 5 {
		t.Fatalf("session: %+v %v", s, err)
	}
	if err := alice.DeleteSession(c, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := alice.DeleteSession(c, s.ID); err != nil {
		t.Fatalf("second delete (idempotent): %v", err)
	}
	if _, err := alice.KeepAlive(c, s.ID); !errors.Is(err, client.ErrSessionExpired) {
		t.Fatalf("keepalive of an ended session: %v", err)
	}
	st, err := alice.GetSession(c, s.ID)
	if err != nil || st.Active {
		t.Fatalf("ended session: %+v %v", st, err)
	}
	if _, err := bob.GetSession(c, s.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("another's session: %v", err)
	}
	if _, err := alice.AddWebhook(c, client.WebhookOptions{URL: "http://example.com/hook"}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("plain-http webhook: %v", err)
	}
}

func TestWebhooksAndTokens(t *testing.T) {
	_, alice, _ := start(t)
	c := ctx(t)
	// A literal public address: the SSRF guard needs no DNS (documentation
	// ranges such as 203.0.113.0/24 are refused). Nothing is ever sent to it:
	// it is deleted before any lock event.
	w, err := alice.AddWebhook(c, client.WebhookOptions{URL: "https://1.1.1.1/x", Secret: "s3cret",
		Events: []string{"acquired"}, LockPattern: "deploy/**"})
	if err != nil {
		t.Fatalf("add webhook: %v", err)
	}
	if w.Secret == nil || *w.Secret != "****" || w.LockPattern == nil || *w.LockPattern != "deploy/**" {
		t.Fatalf("webhook: %+v", w)
	}
	ws, err := alice.ListWebhooks(c)
	if err != nil || len(ws) != 1 || ws[0].ID != w.ID {
		t.Fatalf("list: %+v %v", ws, err)
	}
	if err := alice.DeleteWebhook(c, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := alice.DeleteWebhook(c, w.ID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestTokens_RotateAndRevoke(t *testing.T) {
	srv, alice, _ := start(t)
	c := ctx(t)
	toks, err := alice.ListTokens(c, false)
	if err != nil || len(toks) != 1 || !toks[0].Current || toks[0].Login != "alice" {
		t.Fatalf("tokens: %+v %v", toks, err)
	}
	old := alice.Token()
	fresh, err := alice.RotateToken(c)
	if err != nil || fresh == "" || alice.Token() != fresh {
		t.Fatalf("rotate: %q %v", fresh, err)
	}
	if _, err := newClient(t, srv.Addr(), old).List(c, client.ListOptions{}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("old token after rotation: %v", err)
	}
	toks, err = alice.ListTokens(c, false)
	if err != nil || len(toks) != 1 || toks[0].Source != "rotated" {
		t.Fatalf("after rotation: %+v %v", toks, err)
	}
	if err := alice.RevokeToken(c, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.List(c, client.ListOptions{}); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("after revoking its own token: %v", err)
	}
}

func TestEvents_StreamAndResume(t *testing.T) {
	_, alice, _ := start(t)
	c := ctx(t)
	stream, err := alice.Events(c, client.EventsOptions{Prefix: "ev/"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	l, err := alice.Acquire(c, "ev/a", client.AcquireOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Acquire(c, "other/b", client.AcquireOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := alice.Release(c, "ev/a", l.LeaseID); err != nil {
		t.Fatal(err)
	}
	first, err := stream.Next()
	if err != nil || first.Type != "acquired" || first.Lock != "ev/a" || first.FencingToken != l.FencingToken || first.ID == 0 {
		t.Fatalf("first event: %+v %v", first, err)
	}
	second, err := stream.Next()
	if err != nil || second.Type != "released" || second.Lock != "ev/a" || second.ID <= first.ID || stream.LastID() != second.ID {
		t.Fatalf("second event: %+v %v", second, err)
	}
	resumed, err := alice.Events(c, client.EventsOptions{Prefix: "ev/", Resume: true, After: first.ID})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	if e, err := resumed.Next(); err != nil || e.ID != second.ID || e.Type != "released" {
		t.Fatalf("resumed: %+v %v", e, err)
	}
}

func TestAdmin_SnapshotAndRemoveNode(t *testing.T) {
	srv := apitest.StartServerWith(t, "", func(cfg *server.Config) { cfg.AdminUsers = []string{"alice"} })
	alice, bob := newClient(t, srv.Addr(), apitest.AliceToken), newClient(t, srv.Addr(), apitest.BobToken)
	c := ctx(t)
	var buf bytes.Buffer
	if n, err := alice.Snapshot(c, &buf); err != nil || n == 0 || int(n) != buf.Len() {
		t.Fatalf("snapshot: %d bytes, %v", n, err)
	}
	if _, err := bob.Snapshot(c, io.Discard); !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("snapshot as a user: %v", err)
	}
	var api *client.APIError
	if err := alice.RemoveNode(c, "n2"); !errors.As(err, &api) || api.Code != "not_clustered" {
		t.Fatalf("remove on a single node: %v", err)
	}
}

// TestWatch_ResumesAcrossABrokenStream: Watch sees every event once and in
// order, also those that happened while its connection was down.
func TestWatch_ResumesAcrossABrokenStream(t *testing.T) {
	srv, alice, _ := start(t)
	proxy := apitest.StartProxy(t, srv.Addr())
	watcher := newClient(t, proxy.Addr, apitest.AliceToken,
		client.WithRetry(client.Retry{Attempts: 3, Min: 10 * time.Millisecond, Max: 100 * time.Millisecond}))
	c := ctx(t)
	seen := make(chan client.Event, 100)
	go watcher.Watch(c, client.EventsOptions{Prefix: "w/"}, func(e client.Event) error { seen <- e; return nil })
	// Watch is connected once an event made before the cut shows up.
	poll.Until(t, 5*time.Second, "the watch delivers", func() bool {
		mustAcquire(t, alice, "w/ping")
		select {
		case e := <-seen:
			return e.Lock == "w/ping"
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	drain(seen)
	proxy.Cut()
	for _, name := range []string{"w/a", "w/b", "w/c"} {
		mustAcquire(t, alice, name)
	}
	var got []string
	for len(got) < 3 {
		select {
		case e := <-seen:
			if e.Lock != "w/ping" {
				got = append(got, e.Type+" "+e.Lock)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("after the cut, Watch delivered only %v", got)
		}
	}
	if fmt.Sprint(got) != "[acquired w/a acquired w/b acquired w/c]" {
		t.Fatalf("events after the cut: %v", got)
	}
}

func mustAcquire(t *testing.T, c *client.Client, name string) {
	t.Helper()
	if _, err := c.Acquire(ctx(t), name, client.AcquireOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
}

func drain(ch chan client.Event) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestCreateToken_Scoped(t *testing.T) {
	srv, alice, _ := start(t)
	c := ctx(t)
	tok, err := alice.CreateToken(c, client.TokenOptions{Name: "ci", Prefixes: []string{"ci/"}, TTL: 90 * time.Minute})
	if err != nil || tok.Token == "" || tok.Access != "write" || tok.ExpiresAt == nil || tok.Prefixes[0] != "ci/" {
		t.Fatalf("create: %+v %v", tok, err)
	}
	ci := newClient(t, srv.Addr(), tok.Token)
	if _, err := ci.Acquire(c, "ci/build", client.AcquireOptions{TTL: 10 * time.Second}); err != nil {
		t.Fatalf("inside: %v", err)
	}
	_, err = ci.Acquire(c, "prod/db", client.AcquireOptions{TTL: 10 * time.Second})
	if !errors.Is(err, client.ErrTokenScope) || !errors.Is(err, client.ErrForbidden) {
		t.Fatalf("outside: %v", err)
	}
	if _, err := ci.CreateToken(c, client.TokenOptions{Name: "wider", Prefixes: []string{"prod/"}}); !errors.Is(err, client.ErrTokenScope) {
		t.Fatalf("a scoped token created a token: %v", err)
	}
}
