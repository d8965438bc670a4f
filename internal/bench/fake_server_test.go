package bench

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

const fakeToken = "test-token"

// fakeLockServer implements just enough of the lock API for the generator:
// held locks in a map under a mutex and one global fencing-token counter.
type fakeLockServer struct {
	failEvery  int64         // every Nth acquire answers 500; 0 never
	tokenStep  int64         // added to the counter per grant; negative hands out regressing tokens
	onAcquire  func(n int64) // called with the running acquire count, outside the lock
	newConns   atomic.Int64
	mu         sync.Mutex
	held       map[string]string // lock name -> lease id
	acquires   int64
	token      int64
	namesSeen  map[string]bool
	badRequest string         // first malformed request, for diagnosing test failures
	useTLS     bool           // serve HTTPS with httptest's certificate
	roots      *x509.CertPool // set by startFakeServer with useTLS: trusts that certificate
}

func startFakeServer(t *testing.T, f *fakeLockServer) string {
	t.Helper()
	f.held = map[string]string{}
	f.namesSeen = map[string]bool{}
	if f.tokenStep == 0 {
		f.tokenStep = 1
	}
	if f.tokenStep < 0 {
		f.token = 1 << 40 // room to count down without going negative
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /locks/{name}/acquire", f.acquire)
	mux.HandleFunc("POST /locks/{name}/release", f.release)
	srv := httptest.NewUnstartedServer(f.authorized(mux))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.newConns.Add(1)
		}
	}
	if f.useTLS {
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests expect
		srv.StartTLS()
		f.roots = x509.NewCertPool()
		f.roots.AddCert(srv.Certificate())
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv.URL
}

func (f *fakeLockServer) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fakeLockServer) acquire(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TTLSeconds int64 `json:"ttl_seconds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.TTLSeconds < 1 {
		f.rejectMalformed(w, r)
		return
	}
	name := r.PathValue("name")
	status, resp, n := f.grant(name)
	if f.onAcquire != nil {
		f.onAcquire(n)
	}
	writeJSON(w, status, resp)
}

func (f *fakeLockServer) grant(name string) (int, any, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acquires++
	f.namesSeen[name] = true
	if f.failEvery > 0 && f.acquires%f.failEvery == 0 {
		return http.StatusInternalServerError, map[string]string{"error": "injected failure"}, f.acquires
	}
	if _, busy := f.held[name]; busy {
		return http.StatusConflict, map[string]string{"error": "lock held"}, f.acquires
	}
	f.token += f.tokenStep
	lease := "lease-" + strconv.FormatInt(f.acquires, 10)
	f.held[name] = lease
	return http.StatusOK, map[string]any{
		"status": "acquired", "name": name, "lease_id": lease,
		"fencing_token": f.token, "expires_at": "2030-01-01T00:00:00Z", "holder": "bench",
	}, f.acquires
}

func (f *fakeLockServer) release(w http.ResponseWriter, r *http.Request) {
	var body struct {
		LeaseID string `json:"lease_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.rejectMalformed(w, r)
		return
	}
	name := r.PathValue("name")
	f.mu.Lock()
	ok := f.held[name] == body.LeaseID
	if ok {
		delete(f.held, name)
	}
	f.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such lease"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "released", "message": "Lock released"})
}

func (f *fakeLockServer) rejectMalformed(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.badRequest == "" {
		f.badRequest = r.Method + " " + r.URL.String()
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "malformed"})
}

func (f *fakeLockServer) snapshot() (held, acquires int64, names map[string]bool, bad string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.held)), f.acquires, f.namesSeen, f.badRequest
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
