package bench

import (
	"cmp"
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
	"time"
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

	// Semaphores and shared holds, and the sessions they are taken in.
	shaped       map[string]*fakeShaped
	sessions     int64
	sessionsSeen map[string]bool // sessions of shaped acquires
	maxHolders   int             // most holders of one shaped name at once
	extends      int64           // shaped acquires answered "held"
}

// fakeShaped is a name held as a semaphore or shared.
type fakeShaped struct {
	limit   int
	mode    string
	holders map[string]string // lease → session
}

func startFakeServer(t *testing.T, f *fakeLockServer) string {
	t.Helper()
	f.held = map[string]string{}
	f.namesSeen = map[string]bool{}
	f.shaped = map[string]*fakeShaped{}
	f.sessionsSeen = map[string]bool{}
	if f.tokenStep == 0 {
		f.tokenStep = 1
	}
	if f.tokenStep < 0 {
		f.token = 1 << 40 // room to count down without going negative
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /locks/{name}/acquire", f.acquire)
	mux.HandleFunc("POST /locks/{name}/release", f.release)
	mux.HandleFunc("POST /sessions", f.createSession)
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
	var body fakeAcquire
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.TTLSeconds < 1 ||
		(body.Mode == "shared" && body.SessionID == "") {
		f.rejectMalformed(w, r)
		return
	}
	name := r.PathValue("name")
	if body.Limit > 1 || body.Mode == "shared" {
		f.acquireShaped(w, name, body)
		return
	}
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

type fakeAcquire struct {
	TTLSeconds  int64  `json:"ttl_seconds"`
	Limit       int    `json:"limit"`
	Mode        string `json:"mode"`
	SessionID   string `json:"session_id"`
	WaitSeconds int64  `json:"wait_seconds"`
}

// acquireShaped grants a semaphore slot or a shared hold, waiting (by
// polling) up to the request's wait for a slot.
func (f *fakeLockServer) acquireShaped(w http.ResponseWriter, name string, body fakeAcquire) {
	deadline := time.Now().Add(time.Duration(body.WaitSeconds) * time.Second)
	for {
		status, resp, final := f.grantShaped(name, body)
		if final || !time.Now().Before(deadline) {
			writeJSON(w, status, resp)
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// grantShaped answers a shaped acquire now; final is false for a refusal
// that a wait could turn into a grant.
func (f *fakeLockServer) grantShaped(name string, body fakeAcquire) (status int, resp any, final bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acquires++
	f.namesSeen[name] = true
	limit, mode := max(body.Limit, 1), cmp.Or(body.Mode, "exclusive")
	sh := f.shaped[name]
	if sh == nil || len(sh.holders) == 0 {
		sh = &fakeShaped{limit: limit, mode: mode, holders: map[string]string{}}
		f.shaped[name] = sh
	}
	if body.SessionID != "" {
		f.sessionsSeen[body.SessionID] = true
	}
	switch {
	case sh.limit != limit:
		return http.StatusConflict, map[string]any{"error": "limit mismatch", "code": "limit_mismatch", "limit": sh.limit}, true
	case mode == "shared" && sh.mode == "shared":
		for lease, session := range sh.holders {
			if session == body.SessionID {
				f.extends++
				return http.StatusOK, map[string]any{"status": "held", "name": name, "lease_id": lease, "fencing_token": 1}, true
			}
		}
	case sh.mode != mode || len(sh.holders) >= sh.limit:
		return http.StatusConflict, map[string]any{"error": "lock held", "code": "lock_held"}, false
	}
	f.token += f.tokenStep
	lease := "lease-" + strconv.FormatInt(f.acquires, 10)
	sh.holders[lease] = body.SessionID
	f.maxHolders = max(f.maxHolders, len(sh.holders))
	return http.StatusOK, map[string]any{
		"status": "acquired", "name": name, "lease_id": lease, "fencing_token": f.token,
		"expires_at": "2030-01-01T00:00:00Z", "holder": "bench", "limit": sh.limit, "mode": sh.mode,
	}, true
}

func (f *fakeLockServer) createSession(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.sessions++
	id := "session-" + strconv.FormatInt(f.sessions, 10)
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"session_id": id, "expires_at": "2030-01-01T00:00:00Z"})
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
	if sh := f.shaped[name]; sh != nil && hasKey(sh.holders, body.LeaseID) {
		delete(sh.holders, body.LeaseID)
		ok = true
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
	held = int64(len(f.held))
	for _, sh := range f.shaped {
		held += int64(len(sh.holders))
	}
	return held, f.acquires, f.namesSeen, f.badRequest
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
