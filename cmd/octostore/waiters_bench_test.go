package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

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
	for range b.N {
		p := startServe(b, tokensEnv, append([]string{"--data-dir", b.TempDir()}, unlimited...)...)
		c := newWaitClient(p.Addr)
		base := p.RSS()
		c.post("/locks/one/acquire", map[string]any{"ttl_seconds": 3600}, nil)
		stop := c.waitMany(b, n, func(i int) string { return "one" })
		oneName := p.RSS()
		stop()
		for i := range n {
			c.post(fmt.Sprintf("/locks/many/%d/acquire", i), map[string]any{"ttl_seconds": 3600}, nil)
		}
		held := p.RSS()
		stop = c.waitMany(b, n, func(i int) string { return fmt.Sprintf("many/%d", i) })
		manyNames := p.RSS()
		stop()
		b.ReportMetric(float64(oneName-base)/n, "B/waiter-one-lock")
		b.ReportMetric(float64(manyNames-held)/n, "B/waiter-many-locks")
		b.ReportMetric(float64(oneName)/(1<<20), "MB-rss-10k-waiters")
	}
}

type waitClient struct {
	base string
	http *http.Client
}

func newWaitClient(base string) *waitClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 20_000, MaxConnsPerHost: 0,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}
	return &waitClient{base: base, http: &http.Client{Transport: tr}}
}

func (c *waitClient) post(path string, body any, out any) int {
	return c.postCtx(context.Background(), path, body, out)
}

func (c *waitClient) postCtx(ctx context.Context, path string, body any, out any) int {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, "POST", c.base+path, strings.NewReader(string(data)))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// waitMany queues n acquires (each a session of its own) on the names
// given, waits until the server lists them all as waiting, and returns a
// function that disconnects them.
func (c *waitClient) waitMany(b *testing.B, n int, name func(int) string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		var s struct {
			SessionID string `json:"session_id"`
		}
		c.post("/sessions", map[string]any{"ttl_seconds": 300}, &s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.postCtx(ctx, "/locks/"+name(i)+"/acquire", map[string]any{"ttl_seconds": 60, "session_id": s.SessionID, "wait_seconds": 300}, nil)
		}()
	}
	poll.Until(b, 2*time.Minute, fmt.Sprintf("%d waiters queued", n), func() bool { return c.waiting(name, n) >= n })
	runtime.GC()
	return func() { cancel(); wg.Wait() }
}

// waiting counts the queued acquires over the names.
func (c *waitClient) waiting(name func(int) string, n int) int {
	seen, total := map[string]bool{}, 0
	for i := range n {
		nm := name(i)
		if seen[nm] {
			continue
		}
		seen[nm] = true
		var l struct{ Waiters int }
		req, _ := http.NewRequest("GET", c.base+"/locks/"+nm, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := c.http.Do(req); err == nil {
			json.NewDecoder(resp.Body).Decode(&l)
			resp.Body.Close()
		}
		total += l.Waiters
	}
	return total
}
