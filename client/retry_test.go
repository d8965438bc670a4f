package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
)

// scripted answers the i-th request with answers[i] (the last one from
// then on) and counts requests.
func scripted(t *testing.T, answers ...func(w http.ResponseWriter)) (*client.Client, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		answers[min(i, len(answers)-1)](w)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, "tok", client.WithRetry(client.Retry{Attempts: 4, Min: time.Millisecond, Max: 5 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	return c, &n
}

func answer(status int, code, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("X-Request-Id", "req-1")
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		w.WriteHeader(status)
		if body == "" {
			body = `{"error":"x","code":"` + code + `"}`
		}
		w.Write([]byte(body))
	}
}

const lockJSON = `{"status":"acquired","name":"a","lease_id":"550e8400-e29b-41d4-a716-446655440000","fencing_token":7,"expires_at":"2030-01-01T00:00:00Z","holder":"alice"}`

func TestRetry_NoLeaderIsRetriedForWrites(t *testing.T) {
	c, n := scripted(t, answer(503, "no_leader", ""), answer(503, "shutting_down", ""), answer(200, "", lockJSON))
	l, err := c.Acquire(context.Background(), "a", client.AcquireOptions{TTL: time.Second})
	if err != nil || l.FencingToken != 7 || n.Load() != 3 {
		t.Fatalf("acquire after no_leader: %+v %v (%d requests)", l, err, n.Load())
	}
}

func TestRetry_OutcomeUnknownIsNotRetried(t *testing.T) {
	c, n := scripted(t, answer(503, "outcome_unknown", ""), answer(200, "", lockJSON))
	_, err := c.Acquire(context.Background(), "a", client.AcquireOptions{TTL: time.Second})
	var api *client.APIError
	if !errors.Is(err, client.ErrOutcomeUnknown) || !errors.Is(err, client.ErrUnavailable) || !errors.As(err, &api) ||
		api.RequestID != "req-1" || n.Load() != 1 {
		t.Fatalf("outcome_unknown: %v (%d requests)", err, n.Load())
	}
	c, n = scripted(t, answer(503, "timeout", ""), answer(200, "", lockJSON))
	if _, err := c.Renew(context.Background(), "a", "x", time.Second); !errors.Is(err, client.ErrOutcomeUnknown) || n.Load() != 1 {
		t.Fatalf("server timeout of a write: %v (%d requests)", err, n.Load())
	}
}

func TestRetry_ReadsAreRetried(t *testing.T) {
	c, n := scripted(t, answer(503, "timeout", ""), answer(429, "too_many_streams", ""),
		answer(200, "", `{"status":"available","name":"a"}`))
	st, err := c.Get(context.Background(), "a", client.GetOptions{})
	if err != nil || st.Held || n.Load() != 3 {
		t.Fatalf("get: %+v %v (%d requests)", st, err, n.Load())
	}
	c, n = scripted(t, answer(503, "no_leader", ""))
	if _, err := c.Get(context.Background(), "a", client.GetOptions{}); !errors.Is(err, client.ErrUnavailable) ||
		errors.Is(err, client.ErrOutcomeUnknown) || n.Load() != 4 {
		t.Fatalf("get, always 503: %v (%d requests)", err, n.Load())
	}
}

func TestRetry_ReleaseIsIdempotent(t *testing.T) {
	c, n := scripted(t, answer(503, "outcome_unknown", ""), answer(404, "lock_not_found", ""))
	if err := c.Release(context.Background(), "a", "x"); err != nil || n.Load() != 2 {
		t.Fatalf("release, 404 after an unknown outcome: %v (%d requests)", err, n.Load())
	}
	c, n = scripted(t, answer(404, "lock_not_found", ""))
	if err := c.Release(context.Background(), "a", "x"); !errors.Is(err, client.ErrNotFound) || n.Load() != 1 {
		t.Fatalf("release of an unknown lease: %v (%d requests)", err, n.Load())
	}
	c, n = scripted(t, answer(503, "outcome_unknown", ""), answer(204, "", " "))
	if err := c.DeleteSession(context.Background(), "x"); err != nil || n.Load() != 2 {
		t.Fatalf("delete session: %v (%d requests)", err, n.Load())
	}
}

// A request that never left (connection refused) is retried, and is
// ErrUnavailable, not ErrOutcomeUnknown, even for a write.
func TestRetry_ConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := client.New("http://"+addr, "tok", client.WithRetry(client.Retry{Attempts: 3, Min: time.Millisecond, Max: 2 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Acquire(context.Background(), "a", client.AcquireOptions{TTL: time.Second})
	if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatalf("refused: %v", err)
	}
}

// A write whose answer never comes (the caller's deadline passes after
// sending) is ErrOutcomeUnknown and is sent only once.
func TestRetry_TimeoutAfterSendIsOutcomeUnknown(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c, _ := client.New(srv.URL, "tok")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Acquire(ctx, "a", client.AcquireOptions{TTL: time.Second})
	if !errors.Is(err, client.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) || n.Load() != 1 {
		t.Fatalf("timeout after send: %v (%d requests)", err, n.Load())
	}
}

func TestNew_RefusesBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:3000", "ftp://x", "http://"} {
		if _, err := client.New(u, "t"); !errors.Is(err, client.ErrInvalid) {
			t.Errorf("%q: %v", u, err)
		}
	}
}
