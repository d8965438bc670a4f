package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
)

const (
	alice = apitest.AliceToken
	bob   = apitest.BobToken
)

type lockResp struct {
	Status       string    `json:"status"`
	Name         string    `json:"name"`
	LeaseID      string    `json:"lease_id"`
	FencingToken uint64    `json:"fencing_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	Holder       string    `json:"holder"`
	SessionID    string    `json:"session_id"`
	Metadata     string    `json:"metadata"`
}

type errResp struct {
	Error   string `json:"error"`
	Details string `json:"details"`
	Code    string `json:"code"`
	Lock    struct {
		Name      string    `json:"name"`
		Holder    string    `json:"holder"`
		ExpiresAt time.Time `json:"expires_at"`
	} `json:"lock"`
}

type sessionResp struct {
	SessionID             string    `json:"session_id"`
	UserID                string    `json:"user_id"`
	ExpiresAt             time.Time `json:"expires_at"`
	KeepaliveIntervalSecs int       `json:"keepalive_interval_secs"`
	LockCount             int       `json:"lock_count"`
	Active                bool      `json:"active"`
}

type body = map[string]any

func acquire(t *testing.T, c *apitest.Client, name, token string, b body) (*apitest.Response, lockResp) {
	t.Helper()
	r := c.Do("POST", "/locks/"+name+"/acquire", token, b)
	var l lockResp
	if r.Status == http.StatusOK {
		r.JSON(t, &l)
	}
	return r, l
}

func mustAcquire(t *testing.T, c *apitest.Client, name, token string, ttl int) lockResp {
	t.Helper()
	r, l := acquire(t, c, name, token, body{"ttl_seconds": ttl})
	if r.Status != http.StatusOK {
		t.Fatalf("acquire %s: %d %s", name, r.Status, r.Body)
	}
	return l
}

func wantStatus(t *testing.T, r *apitest.Response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
}

func wantError(t *testing.T, r *apitest.Response, status int, code string) errResp {
	t.Helper()
	wantStatus(t, r, status)
	var e errResp
	r.JSON(t, &e)
	if e.Code != code {
		t.Fatalf("code %q, want %q: %s", e.Code, code, r.Body)
	}
	return e
}

func newSession(t *testing.T, c *apitest.Client, token string, ttl int) sessionResp {
	t.Helper()
	r := c.Do("POST", "/sessions", token, body{"ttl_seconds": ttl})
	wantStatus(t, r, http.StatusCreated)
	var s sessionResp
	r.JSON(t, &s)
	return s
}
