package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// WebhookOptions register a webhook.
type WebhookOptions struct {
	URL         string   `json:"url"`                    // HTTPS endpoint
	Secret      string   `json:"secret,omitempty"`       // HMAC-SHA256 signing secret
	Events      []string `json:"events,omitempty"`       // acquired, renewed, released, expired or "*" (default)
	LockPattern string   `json:"lock_pattern,omitempty"` // "deploy/**", "svc/*/lock"; empty: every lock
}

// Webhook is a registered webhook. Its secret is never returned.
type Webhook struct {
	ID             string     `json:"id"`
	UserID         string     `json:"user_id"`
	URL            string     `json:"url"`
	Secret         *string    `json:"secret"` // "****" when one is set
	Events         []string   `json:"events"`
	LockPattern    *string    `json:"lock_pattern"`
	CreatedAt      time.Time  `json:"created_at"`
	Active         bool       `json:"active"`
	FailingSince   *time.Time `json:"failing_since"`
	InactiveReason *string    `json:"inactive_reason"`
}

// AddWebhook registers a webhook; a refused URL or filter is ErrInvalid.
func (c *Client) AddWebhook(ctx context.Context, o WebhookOptions) (*Webhook, error) {
	var w Webhook
	err := c.do(ctx, &call{method: http.MethodPost, path: "/webhooks", body: o, out: &w})
	return result(&w, err)
}

// ListWebhooks returns the caller's webhooks.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var ws []Webhook
	err := c.do(ctx, &call{method: http.MethodGet, path: "/webhooks", kind: read, out: &ws})
	return ws, err
}

// DeleteWebhook removes one of the caller's webhooks.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/webhooks/" + url.PathEscape(id)})
}

// TokenInfo is a bearer token by its public ID; its value is never shown.
type TokenInfo struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Login     string    `json:"login"`
	Source    string    `json:"source"` // static, bootstrap, github, rotated or created
	CreatedAt time.Time `json:"created_at"`
	Current   bool      `json:"current"` // the token of this client
	// Name, Access (full, write or read) and Prefixes describe a scoped
	// token (CreateToken); other tokens are "full" with no prefixes.
	Name     string   `json:"name"`
	Access   string   `json:"access"`
	Prefixes []string `json:"prefixes"`
	// ExpiresAt is nil for a token that never expires. LastUsedAt is the
	// last recorded use, nil before the first; the server records uses at
	// most about hourly, so it may be up to an hour old.
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// TokenOptions describe a scoped token.
type TokenOptions struct {
	Name     string   // a label for listing, 1 to 64 bytes
	Prefixes []string // the lock-name prefixes it covers (1 to 16); "acme/deploy/"
	ReadOnly bool     // status, lists and events only; else also acquire/renew/release/sessions
	// TTL is its lifetime, rounded up to whole seconds; 0 for a token
	// that never expires.
	TTL time.Duration
}

// NewToken is a token just created: Token is its value, shown only this
// once.
type NewToken struct {
	Token string `json:"token"`
	TokenInfo
}

// CreateToken issues the caller a token limited to o's prefixes and
// access. Used outside them it gets ErrTokenScope. Only a token that is
// not itself scoped may create one (else ErrTokenScope). It is not
// retried once sent: a repeat would create a second token.
func (c *Client) CreateToken(ctx context.Context, o TokenOptions) (*NewToken, error) {
	body := map[string]any{"name": o.Name, "prefixes": o.Prefixes, "access": "write"}
	if o.ReadOnly {
		body["access"] = "read"
	}
	if o.TTL > 0 {
		body["ttl_seconds"] = int64((o.TTL + time.Second - 1) / time.Second)
	}
	var t NewToken
	err := c.do(ctx, &call{method: http.MethodPost, path: "/auth/tokens", body: body, out: &t})
	return result(&t, err)
}

// ListTokens returns the caller's tokens; with all, every user's
// (administrators only, else ErrForbidden).
func (c *Client) ListTokens(ctx context.Context, all bool) ([]TokenInfo, error) {
	q := url.Values{}
	if all {
		q.Set("all", "true")
	}
	var l struct {
		Tokens []TokenInfo `json:"tokens"`
	}
	err := c.do(ctx, &call{method: http.MethodGet, path: "/auth/tokens", query: q, kind: read, out: &l})
	return l.Tokens, err
}

// RevokeToken revokes a token by its public ID.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/auth/tokens/" + url.PathEscape(id)})
}

// RotateToken replaces the client's token with a new one, which it
// returns and uses from then on; the old one stops working at once. Keep
// the new value: it is shown only this once. An ErrOutcomeUnknown here
// means the old token may already be dead.
func (c *Client) RotateToken(ctx context.Context) (string, error) {
	var r struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, &call{method: http.MethodPost, path: "/auth/token/rotate", out: &r}); err != nil {
		return "", err
	}
	c.token.Store(&r.Token)
	return r.Token, nil
}

// Health returns nil when the server answers its liveness check.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, &call{method: http.MethodGet, path: "/health", kind: read})
}

// ClusterNode is one member of the cluster.
type ClusterNode struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Role     string `json:"role"` // leader, follower, candidate or unknown
	Voter    bool   `json:"voter"`
}

// ClusterStatus is the cluster as the answering node sees it.
type ClusterStatus struct {
	Leader       string        `json:"leader"` // empty when none is known
	Term         uint64        `json:"term"`
	CommitIndex  uint64        `json:"commit_index"`
	AppliedIndex uint64        `json:"applied_index"`
	Self         string        `json:"self"`
	Nodes        []ClusterNode `json:"nodes"`
}

// Cluster reads the cluster's status from the node the client talks to.
func (c *Client) Cluster(ctx context.Context) (*ClusterStatus, error) {
	var s ClusterStatus
	err := c.do(ctx, &call{method: http.MethodGet, path: "/cluster", kind: read, out: &s})
	return result(&s, err)
}

// SignInURL is where a person signs in with GitHub to get a token.
func (c *Client) SignInURL() string { return c.base + "/auth/github" }

// RemoveNode takes a (dead) member out of the cluster; administrators
// only. A single node without --raft-addr answers 409 (code
// not_clustered).
func (c *Client) RemoveNode(ctx context.Context, id string) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/cluster/nodes/" + url.PathEscape(id)})
}

// Snapshot writes a consistent backup of the whole state to w and returns
// its size; administrators only. It holds token hashes and webhook
// secrets: keep it as private as the tokens. A copy that fails midway
// returns an error; discard what was written.
func (c *Client) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	k := &call{method: http.MethodGet, path: "/cluster/snapshot", kind: read, stream: true}
	if err := c.do(ctx, k); err != nil {
		return 0, err
	}
	defer k.resp.Body.Close()
	n, err := io.Copy(w, k.resp.Body)
	if err != nil {
		return n, fmt.Errorf("%w: snapshot cut off after %d bytes: %w", ErrUnavailable, n, err)
	}
	return n, nil
}
