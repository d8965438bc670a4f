package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

// waitersOf reads how many acquires wait for name.
func waitersOf(t *testing.T, c *apitest.Client, name string) int {
	t.Helper()
	var l struct{ Waiters int }
	c.Do("GET", "/locks/"+name, alice, nil).JSON(t, &l)
	return l.Waiters
}

// sessions creates n sessions of alice: n distinct holders.
func sessions(t *testing.T, c *apitest.Client, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newSession(t, c, alice, 300).SessionID
	}
	return ids
}

// TestWait_FIFO: waiters arriving in a known order are granted in that
// order, each with a higher fencing token, one release at a time.
func TestWait_FIFO(t *testing.T) {
	_, c := apitest.Start(t)
	holder := mustAcquire(t, c, "fifo", bob, 60)
	const n = 5
	ids := sessions(t, c, n)
	type grant struct {
		i int
		l lockResp
	}
	grants := make(chan grant, n)
	for i, sid := range ids {
		go func() {
			r, l := acquire(t, c, "fifo", alice, body{"ttl_seconds": 60, "session_id": sid, "wait_seconds": 30})
			if r.Status != http.StatusOK || l.Status != "acquired" {
				t.Errorf("waiter %d: %d %s", i, r.Status, r.Body)
			}
			grants <- grant{i, l}
		}()
		poll.Until(t, 5*time.Second, "waiter queued", func() bool { return waitersOf(t, c, "fifo") == i+1 })
	}
	wantStatus(t, c.Do("POST", "/locks/fifo/release", bob, body{"lease_id": holder.LeaseID}), http.StatusOK)
	last := holder.FencingToken
	for want := range n {
		g := <-grants
		if g.i != want || g.l.FencingToken <= last || g.l.SessionID != ids[want] {
			t.Fatalf("grant %d went to waiter %d (token %d after %d)", want, g.i, g.l.FencingToken, last)
		}
		last = g.l.FencingToken
		select {
		case extra := <-grants:
			t.Fatalf("waiter %d granted while %d still holds the lock", extra.i, g.i)
		default:
		}
		wantStatus(t, c.Do("POST", "/locks/fifo/release", alice, body{"lease_id": g.l.LeaseID}), http.StatusOK)
	}
}

func TestWait_TimeoutIsAConflict(t *testing.T) {
	_, c := apitest.Start(t)
	mustAcquire(t, c, "busy", bob, 60)
	start := time.Now()
	r, _ := acquire(t, c, "busy", alice, body{"ttl_seconds": 60, "wait_seconds": 1})
	e := wantError(t, r, http.StatusConflict, "lock_held")
	if took := time.Since(start); took < time.Second || took > 3*time.Second || e.Lock.Holder != "bob" {
		t.Fatalf("after %v: %+v", took, e)
	}
	if n := waitersOf(t, c, "busy"); n != 0 {
		t.Fatalf("%d waiters left after the timeout", n)
	}
}

// TestWait_DisconnectLeavesTheQueue: a waiter whose client goes away is
// never granted the lock.
func TestWait_DisconnectLeavesTheQueue(t *testing.T) {
	_, c := apitest.Start(t)
	held := mustAcquire(t, c, "gone", bob, 60)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "POST", c.Base+"/locks/gone/acquire", strings.NewReader(`{"ttl_seconds": 60, "wait_seconds": 60}`))
		req.Header.Set("Authorization", "Bearer "+alice)
		if resp, err := c.HTTP.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	poll.Until(t, 5*time.Second, "waiter queued", func() bool { return waitersOf(t, c, "gone") == 1 })
	cancel()
	<-done
	poll.Until(t, 5*time.Second, "waiter gone", func() bool { return waitersOf(t, c, "gone") == 0 })
	wantStatus(t, c.Do("POST", "/locks/gone/release", bob, body{"lease_id": held.LeaseID}), http.StatusOK)
	var st lockResp
	c.Do("GET", "/locks/gone", alice, nil).JSON(t, &st)
	if st.Status != "available" {
		t.Fatalf("the lock went to a client that left: %+v", st)
	}
}

// TestWait_ReleaseWakesExactlyOne: two waiters, one release, one grant.
func TestWait_ReleaseWakesExactlyOne(t *testing.T) {
	_, c := apitest.Start(t)
	held := mustAcquire(t, c, "one", bob, 60)
	ids := sessions(t, c, 2)
	var wg sync.WaitGroup
	results := make(chan lockResp, 2)
	for i, sid := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, l := acquire(t, c, "one", alice, body{"ttl_seconds": 60, "session_id": sid, "wait_seconds": 3})
			if r.Status == http.StatusOK {
				results <- l
			}
		}()
		poll.Until(t, 5*time.Second, "queued", func() bool { return waitersOf(t, c, "one") == i+1 })
	}
	wantStatus(t, c.Do("POST", "/locks/one/release", bob, body{"lease_id": held.LeaseID}), http.StatusOK)
	first := <-results
	if first.SessionID != ids[0] || waitersOf(t, c, "one") != 1 {
		t.Fatalf("granted %+v, %d still waiting", first, waitersOf(t, c, "one"))
	}
	wg.Wait() // the second times out: nobody released again
	if len(results) != 0 {
		t.Fatal("one release woke two waiters")
	}
}

// TestWait_ExpiryHandsOver: a waiter gets a lock whose holder vanished
// as soon as it expires (after the skew margin), not later.
func TestWait_ExpiryHandsOver(t *testing.T) {
	t.Parallel()
	_, c := apitest.Start(t)
	held := mustAcquire(t, c, "exp", bob, 1)
	r, l := acquire(t, c, "exp", alice, body{"ttl_seconds": 60, "wait_seconds": 10})
	got := time.Now()
	wantStatus(t, r, http.StatusOK)
	freeAt := held.ExpiresAt.Add(apitest.TestSkew)
	if got.Before(freeAt) || got.Sub(freeAt) > time.Second || l.FencingToken <= held.FencingToken {
		t.Fatalf("granted at %v, free at %v: %+v", got, freeAt, l)
	}
}
