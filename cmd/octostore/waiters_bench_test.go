package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/poll"
)

// unlimited lifts the per-user and per-node limits for benchmarks that
// drive one user far past them.
var unlimited = []string{"--rate-limit", "0", "--max-locks-per-user", "0", "--max-sessions-per-user", "0", "--max-waiting", "0", "--max-in-flight", "0"}

// BenchmarkWaiters measures what waiting costs the server: 10,000
// acquires queued on one lock, then one waiter on each of 10,000 locks,
// reporting the server's resident memory per waiter.
//
//	go test ./cmd/octostore -run XXX -bench Waiters -benchtime 1x
func BenchmarkWaiters(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	hold := client.AcquireOptions{TTL: time.Hour}
	for range b.N {
		p := startServe(b, tokensEnv, append([]string{"--data-dir", b.TempDir()}, unlimited...)...)
		c := newWaitClient(b, p.Addr)
		base := p.RSS()
		c.Acquire(ctx, "one", hold)
		stop := waitMany(b, c, n, []string{"one"})
		oneName := p.RSS()
		stop()
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("many/%d", i)
			c.Acquire(ctx, names[i], hold)
		}
		held := p.RSS()
		stop = waitMany(b, c, n, names)
		manyNames := p.RSS()
		stop()
		b.ReportMetric(float64(oneName-base)/n, "B/waiter-one-lock")
		b.ReportMetric(float64(manyNames-held)/n, "B/waiter-many-locks")
		b.ReportMetric(float64(oneName)/(1<<20), "MB-rss-10k-waiters")
	}
}

// newWaitClient is a client whose transport keeps a connection per
// waiter open.
func newWaitClient(b *testing.B, base string) *client.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 20_000,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}
	c, err := client.New(base, token, client.WithHTTPClient(&http.Client{Transport: tr}))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// waitMany queues n acquires (each a session of its own) spread over
// names in turn, waits until the server lists them all as waiting, and
// returns a function that disconnects them.
func waitMany(b *testing.B, c *client.Client, n int, names []string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		s, err := c.CreateSession(ctx, 5*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Acquire(ctx, names[i%len(names)], client.AcquireOptions{TTL: time.Minute, SessionID: s.ID, Wait: 5 * time.Minute})
		}()
	}
	poll.Until(b, 2*time.Minute, fmt.Sprintf("%d waiters queued", n), func() bool { return waiting(c, names) >= n })
	runtime.GC()
	return func() { cancel(); wg.Wait() }
}

// waiting counts the queued acquires on names.
func waiting(c *client.Client, names []string) int {
	total := 0
	for _, name := range names {
		if st, err := c.Get(context.Background(), name, client.GetOptions{}); err == nil {
			total += st.Waiters
		}
	}
	return total
}
