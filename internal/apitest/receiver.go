package apitest

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/webhook"
)

// Receiver is a TLS webhook endpoint on 127.0.0.1 that records every
// attempt, and can be told to fail or stall.
type Receiver struct {
	*httptest.Server
	mu       sync.Mutex
	attempts []Delivery // every request, failed ones included
	ok       []Delivery // the accepted ones, in order
	Status   int        // answer; 0 is 200
	FailN    int        // answer 500 to this many more requests first
	Delay    time.Duration
	arrived  chan struct{} // signalled on every accepted Delivery
}

// Delivery is one received request.
type Delivery struct {
	Header  http.Header
	Body    []byte
	Payload webhook.Payload
}

// NewReceiver starts a receiver on 127.0.0.1, closed when the test ends.
func NewReceiver(t testing.TB) *Receiver {
	r := &Receiver{arrived: make(chan struct{}, 1000)}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(r.handle))
	t.Cleanup(r.Close)
	return r
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := Delivery{Header: req.Header.Clone(), Body: body}
	json.Unmarshal(body, &d.Payload)
	r.mu.Lock()
	r.attempts = append(r.attempts, d)
	status, delay := r.Status, r.Delay
	if r.FailN > 0 {
		r.FailN--
		status = http.StatusInternalServerError
	}
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	if status != 0 && status != http.StatusOK {
		w.WriteHeader(status)
		return
	}
	r.mu.Lock()
	r.ok = append(r.ok, d)
	r.mu.Unlock()
	r.arrived <- struct{}{}
}

// Set changes the receiver under its lock: Status to answer (0 is 200),
// FailN to fail that many requests first, Delay to stall.
func (r *Receiver) Set(fn func(r *Receiver)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r)
}

// Accepted returns a copy of the accepted deliveries.
func (r *Receiver) Accepted() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.ok...)
}

// Attempts returns every request received, failed ones included.
func (r *Receiver) Attempts() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.attempts...)
}

// WaitFor waits until n deliveries were accepted, failing after within.
func (r *Receiver) WaitFor(t testing.TB, n int, within time.Duration) []Delivery {
	t.Helper()
	deadline := time.After(within)
	for {
		if got := r.Accepted(); len(got) >= n {
			return got
		}
		select {
		case <-r.arrived:
		case <-deadline:
			t.Fatalf("%d deliveries within %v, want %d", len(r.Accepted()), within, n)
		}
	}
}

// Roots trusts the receivers' test CA (httptest's, the same for all).
func (r *Receiver) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(r.Certificate())
	return pool
}
