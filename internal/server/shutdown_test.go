package server_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

// TestShutdown_EndsLongRequests: a graceful shutdown does not wait out a
// waiting acquire or an event stream. The waiter leaves its queue and is
// told to retry elsewhere; the stream ends.
func TestShutdown_EndsLongRequests(t *testing.T) {
	srv := apitest.StartServer(t, "")
	c := apitest.New(t, "http://"+srv.Addr())
	var held struct{ LeaseID string }
	c.Do("POST", "/locks/busy/acquire", apitest.BobToken, map[string]any{"ttl_seconds": 300}).JSON(t, &held)
	waiter := make(chan *apitest.Response, 1)
	go func() {
		waiter <- c.Do("POST", "/locks/busy/acquire", apitest.AliceToken, map[string]any{"ttl_seconds": 60, "wait_seconds": 300})
	}()
	stream := c.Stream(context.Background(), "/events", apitest.AliceToken)
	streamEnded := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, stream.Body); streamEnded <- err }()
	poll.Until(t, 5*time.Second, "the waiter queued", func() bool {
		var l struct{ Waiters int }
		c.Do("GET", "/locks/busy", apitest.AliceToken, nil).JSON(t, &l)
		return l.Waiters == 1
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown waited for long requests: %v", err)
	}
	r := <-waiter
	var e struct{ Code string }
	r.JSON(t, &e)
	if r.Status != http.StatusServiceUnavailable || e.Code != "shutting_down" {
		t.Fatalf("waiter got %d %s", r.Status, r.Body)
	}
	if err := <-streamEnded; err != nil {
		t.Fatalf("stream ended with %v, want a clean end", err)
	}
}
