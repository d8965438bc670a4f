package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// SessionGrant is a new session.
type SessionGrant struct {
	ID                    string    `json:"session_id"`
	ExpiresAt             time.Time `json:"expires_at"`
	KeepaliveIntervalSecs int64     `json:"keepalive_interval_secs"` // the server's advice: ttl/2
}

// KeepAliveResult is a session's new expiry.
type KeepAliveResult struct {
	ID        string    `json:"session_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SessionStatus is what GET /sessions/{id} says about a session. An ended
// session stays readable (Active false) for an hour.
type SessionStatus struct {
	ID        string    `json:"session_id"`
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
	LockCount int       `json:"lock_count"`
	Active    bool      `json:"active"`
}

// CreateSession starts a session that lasts ttl (rounded up to seconds,
// 10s to 300s; 0 is the server's default, 60s) unless kept alive. Locks
// acquired with its ID are released when it ends.
func (c *Client) CreateSession(ctx context.Context, ttl time.Duration) (*SessionGrant, error) {
	body := map[string]int64{}
	if ttl > 0 {
		body["ttl_seconds"] = seconds(ttl)
	}
	var s SessionGrant
	err := c.do(ctx, &call{method: http.MethodPost, path: "/sessions", body: body, out: &s})
	return result(&s, err)
}

// KeepAlive extends the session by its TTL. An ended session is
// ErrSessionExpired; an unknown one ErrNotFound.
func (c *Client) KeepAlive(ctx context.Context, id string) (*KeepAliveResult, error) {
	var k KeepAliveResult
	err := c.do(ctx, &call{method: http.MethodPost, path: sessionPath(id) + "/keepalive", out: &k})
	return result(&k, err)
}

// GetSession reads a session's status.
func (c *Client) GetSession(ctx context.Context, id string) (*SessionStatus, error) {
	var s SessionStatus
	err := c.do(ctx, &call{method: http.MethodGet, path: sessionPath(id), kind: read, out: &s})
	return result(&s, err)
}

// DeleteSession ends the session and releases its locks. The server
// answers 204 for a session that already ended, so it is retried like a
// read.
func (c *Client) DeleteSession(ctx context.Context, id string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: sessionPath(id), kind: idempotent})
}

func sessionPath(id string) string { return "/sessions/" + url.PathEscape(id) }
