package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

const token = "durability-token-0123456789"

var tokensEnv = []string{"OCTOSTORE_TOKENS=tester:" + token}

// lockView is what a client knows of one lock name.
type lockView struct {
	Held      bool
	LeaseID   string
	Token     uint64
	ExpiresAt time.Time
}

// nameLog is one name's history as a worker saw it: the state after the
// last acknowledged operation, and, if the process died mid-request, the
// state that request would have produced.
type nameLog struct {
	acked    lockView
	inflight *lockView // nil when nothing was in flight
}

type loadWorker struct {
	id    int
	http  *http.Client
	base  string
	names map[string]*nameLog
	maxTk uint64
	ops   *atomic.Int64
	err   error // an answer other than success: fails the test
}

// TestDurability_KillDashNine acquires, renews and releases locks from
// concurrent clients, kill -9s the real binary mid-load, restarts it on the
// same data dir and checks that every acknowledged change survived, that
// unacknowledged ones are either absent or whole, and that fencing tokens
// keep increasing.
func TestDurability_KillDashNine(t *testing.T) {
	dir := t.TempDir()
	// Sixteen workers as one user outrun the per-user rate limit on a fast
	// machine; this test is about what survives a kill, not about 429s.
	env := append([]string{"OCTOSTORE_RATE_LIMIT=0"}, tokensEnv...)
	p := startServe(t, env, "--data-dir", dir)
	var ops atomic.Int64
	workers := make([]*loadWorker, 16)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = &loadWorker{id: i, http: &http.Client{Timeout: 10 * time.Second}, base: p.Addr, names: map[string]*nameLog{}, ops: &ops}
		wg.Add(1)
		go func() { defer wg.Done(); workers[i].run() }()
	}
	poll.Wait(20*time.Second, func() bool { return ops.Load() >= 3000 }) // or kill with fewer: all are checked
	p.Kill()                                                             // mid-load: every worker has a request in flight
	wg.Wait()
	for _, w := range workers {
		if w.err != nil {
			t.Fatal(w.err)
		}
	}
	t.Logf("killed after %d acknowledged operations", ops.Load())

	p2 := startServe(t, env, "--data-dir", dir)
	c := apitest.New(t, p2.Addr)
	var maxToken uint64
	checked := 0
	for _, w := range workers {
		maxToken = max(maxToken, w.maxTk)
		for name, nl := range w.names {
			checkName(t, c, name, nl)
			checked++
		}
	}
	var fresh struct {
		FencingToken uint64 `json:"fencing_token"`
	}
	r := c.Do("POST", "/locks/after-restart/acquire", token, map[string]any{"ttl_seconds": 60})
	r.JSON(t, &fresh)
	if fresh.FencingToken <= maxToken {
		t.Fatalf("token %d after restart, %d was handed out before", fresh.FencingToken, maxToken)
	}
	t.Logf("checked %d names; max token before kill %d, after restart %d", checked, maxToken, fresh.FencingToken)
}

// checkName compares the restarted server's view of name with what was
// acknowledged before the kill.
func checkName(t *testing.T, c *apitest.Client, name string, nl *nameLog) {
	t.Helper()
	var got struct {
		Status       string    `json:"status"`
		LeaseID      string    `json:"lease_id"`
		FencingToken uint64    `json:"fencing_token"`
		ExpiresAt    time.Time `json:"expires_at"`
	}
	c.Do("GET", "/locks/"+name, token, nil).JSON(t, &got)
	view := lockView{Held: got.Status == "held", LeaseID: got.LeaseID, Token: got.FencingToken, ExpiresAt: got.ExpiresAt}
	if view.Held && (view.LeaseID == "" || view.Token == 0 || view.ExpiresAt.IsZero()) {
		t.Errorf("%s: half-applied lock %+v", name, got)
	}
	if matches(view, nl.acked) || (nl.inflight != nil && matches(view, *nl.inflight)) {
		return
	}
	t.Errorf("%s: after restart %+v; acknowledged %+v, in flight %+v", name, view, nl.acked, nl.inflight)
}

// matches compares got with want, where want's zero fields are what the
// client could not know (the lease of an unanswered acquire, the expiry of
// an unanswered renew).
func matches(got, want lockView) bool {
	if !got.Held || !want.Held {
		return got.Held == want.Held
	}
	return (want.LeaseID == "" || got.LeaseID == want.LeaseID) &&
		(want.Token == 0 || got.Token == want.Token) &&
		(want.ExpiresAt.IsZero() || got.ExpiresAt.Equal(want.ExpiresAt))
}

// run cycles acquire → renew → release on fresh names until a request
// fails (the process is gone), leaving every third lock held.
func (w *loadWorker) run() {
	for i := 0; ; i++ {
		name := fmt.Sprintf("dur/w%d/%d", w.id, i)
		nl := &nameLog{}
		w.names[name] = nl
		held, ok := w.acquire(name, nl)
		if !ok || !w.renew(name, nl, held) {
			return
		}
		if i%3 != 0 && !w.release(name, nl, held) {
			return
		}
	}
}

func (w *loadWorker) acquire(name string, nl *nameLog) (lockView, bool) {
	nl.inflight = &lockView{Held: true} // lease unknown until answered
	var resp struct {
		LeaseID      string    `json:"lease_id"`
		FencingToken uint64    `json:"fencing_token"`
		ExpiresAt    time.Time `json:"expires_at"`
	}
	if !w.post("/locks/"+name+"/acquire", map[string]any{"ttl_seconds": 3600}, &resp) {
		return lockView{}, false
	}
	w.maxTk = max(w.maxTk, resp.FencingToken)
	return w.ack(nl, lockView{Held: true, LeaseID: resp.LeaseID, Token: resp.FencingToken, ExpiresAt: resp.ExpiresAt}), true
}

func (w *loadWorker) renew(name string, nl *nameLog, held lockView) bool {
	nl.inflight = &lockView{Held: true, LeaseID: held.LeaseID, Token: held.Token} // new expiry unknown
	var resp struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	if !w.post("/locks/"+name+"/renew", map[string]any{"lease_id": held.LeaseID, "ttl_seconds": 1800}, &resp) {
		return false
	}
	held.ExpiresAt = resp.ExpiresAt
	w.ack(nl, held)
	return true
}

func (w *loadWorker) release(name string, nl *nameLog, held lockView) bool {
	nl.inflight = &lockView{Held: false}
	if !w.post("/locks/"+name+"/release", map[string]any{"lease_id": held.LeaseID}, nil) {
		return false
	}
	w.ack(nl, lockView{Held: false})
	return true
}

func (w *loadWorker) ack(nl *nameLog, v lockView) lockView {
	nl.acked, nl.inflight = v, nil
	w.ops.Add(1)
	return v
}

// post sends one request; false means the server is gone.
func (w *loadWorker) post(path string, body, out any) bool {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", w.base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := w.http.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		w.err = fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, data)
		return false
	}
	if out != nil {
		json.Unmarshal(data, out)
	}
	return true
}
