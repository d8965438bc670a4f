package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

const (
	dialTimeout = 5 * time.Second
	// responseTimeout bounds a stuck request so Run always ends; a response
	// this slow is counted as an error rather than a latency sample.
	responseTimeout = 10 * time.Second
	errorBodyLimit  = 200
)

// lockClient issues the two lock calls the benchmark needs. It is shared by
// all workers; per-worker scratch space is passed in by the caller.
type lockClient struct {
	http *http.Client
	base string
	auth string // full Authorization header value, empty for none
	// acquireBody is identical for every uncontended acquire, so it is
	// built once and only ever read.
	acquireBody []byte
	ttlSeconds  int64
}

type acquireResponse struct {
	LeaseID      string `json:"lease_id"`
	FencingToken int64  `json:"fencing_token"`
}

type releaseRequest struct {
	LeaseID string `json:"lease_id"`
}

// transportError marks failures where no usable response arrived, so the
// worker can back off instead of spinning on, say, a refused connection.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func isTransportError(err error) bool {
	var te *transportError
	return errors.As(err, &te)
}

func newLockClient(cfg Config) *lockClient {
	c := &lockClient{
		http:        &http.Client{Transport: newTransport(cfg.Concurrency, cfg.TLS)},
		base:        cfg.URL,
		acquireBody: []byte(`{"ttl_seconds":` + strconv.FormatInt(ttlSeconds(cfg.TTL), 10) + `}`),
		ttlSeconds:  ttlSeconds(cfg.TTL),
	}
	if cfg.Token != "" {
		c.auth = "Bearer " + cfg.Token
	}
	return c
}

// newTransport keeps one keep-alive connection per worker to the single
// target host: the idle pool is as large as the worker count, so no
// connection is ever closed for lack of room and re-dialled. The connection
// cap matches too, because each worker has at most one request in flight;
// without it the transport's race between dialing and waiting for an idle
// connection opens a few surplus connections at start-up.
func newTransport(concurrency int, tc *tls.Config) *http.Transport {
	var protocols http.Protocols
	protocols.SetHTTP1(true) // HTTP/2 would multiplex workers onto one connection and skew the load shape
	return &http.Transport{
		Proxy:                 nil, // a proxy in the path would be measured too
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: responseTimeout,
		MaxIdleConns:          concurrency,
		MaxIdleConnsPerHost:   concurrency,
		MaxConnsPerHost:       concurrency,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true, // bodies are tiny; gzip would only cost CPU
		Protocols:             &protocols,
		TLSClientConfig:       tc.Clone(), // nil stays nil
	}
}

func (c *lockClient) close() { c.http.CloseIdleConnections() }

// acquire takes the lock name and returns its lease. scratch receives the
// response body and is reused across calls by the owning worker.
func (c *lockClient) acquire(ctx context.Context, name string, body []byte, scratch *bytes.Buffer) (acquireResponse, error) {
	var lease acquireResponse
	if err := c.post(ctx, "acquire", name, body, scratch); err != nil {
		return lease, err
	}
	if err := json.Unmarshal(scratch.Bytes(), &lease); err != nil {
		return lease, fmt.Errorf("acquire %s: decoding response: %w", name, err)
	}
	if lease.LeaseID == "" {
		return lease, fmt.Errorf("acquire %s: response has no lease_id", name)
	}
	return lease, nil
}

func (c *lockClient) release(ctx context.Context, name, leaseID string, scratch *bytes.Buffer) error {
	// Built fresh for every request: the transport may still be reading a
	// request body after Do returns, so a reused mutable buffer could race.
	body, err := json.Marshal(releaseRequest{LeaseID: leaseID})
	if err != nil {
		return fmt.Errorf("release %s: %w", name, err)
	}
	return c.post(ctx, "release", name, body, scratch)
}

// waitingBody is the acquire body of a contended worker: its own session,
// waiting in the queue.
func (c *lockClient) waitingBody(session string, wait time.Duration) []byte {
	b, _ := json.Marshal(map[string]any{"ttl_seconds": c.ttlSeconds, "session_id": session,
		"wait_seconds": ttlSeconds(wait)})
	return b
}

// slotBody is a semaphore worker's acquire body: a slot of limit,
// waiting in the queue.
func (c *lockClient) slotBody(limit int, wait time.Duration) []byte {
	b, _ := json.Marshal(map[string]any{"ttl_seconds": c.ttlSeconds, "limit": limit, "wait_seconds": ttlSeconds(wait)})
	return b
}

// sharedBody is a shared worker's acquire body: a shared hold in its own
// session.
func (c *lockClient) sharedBody(session string) []byte {
	b, _ := json.Marshal(map[string]any{"ttl_seconds": c.ttlSeconds, "mode": "shared", "session_id": session})
	return b
}

// createSession starts a session (5 minutes), so that a contended worker is
// a holder of its own under the shared token.
func (c *lockClient) createSession(ctx context.Context, scratch *bytes.Buffer) (string, error) {
	const what = "create session"
	if err := c.send(ctx, what, c.base+"/sessions", []byte(`{"ttl_seconds":300}`), scratch); err != nil {
		return "", err
	}
	var s struct {
		SessionID string `json:"session_id"`
	}
	if json.Unmarshal(scratch.Bytes(), &s) != nil || s.SessionID == "" {
		return "", fmt.Errorf("%s: no session_id in %s", what, bodySnippet(scratch.Bytes()))
	}
	return s.SessionID, nil
}

// post sends one lock call and leaves the response body in respBody.
func (c *lockClient) post(ctx context.Context, op, name string, body []byte, respBody *bytes.Buffer) error {
	return c.send(ctx, op+" "+name, c.opURL(op, name), body, respBody)
}

// send POSTs body to url and leaves the response body in respBody; what
// names the call in errors. The body is always read to EOF, which is what
// lets the connection go back to the keep-alive pool.
func (c *lockClient) send(ctx context.Context, what, url string, body []byte, respBody *bytes.Buffer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &transportError{fmt.Errorf("%s: %w", what, err)}
	}
	defer resp.Body.Close()
	respBody.Reset()
	if _, err := respBody.ReadFrom(resp.Body); err != nil {
		return &transportError{fmt.Errorf("%s: reading response: %w", what, err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: HTTP %d: %s", what, resp.StatusCode, bodySnippet(respBody.Bytes()))
	}
	return nil
}

// opURL escapes the hierarchical lock name (it contains '/') so it stays a
// single path segment and matches routes shaped like /locks/{name}/acquire.
func (c *lockClient) opURL(op, name string) string {
	return c.base + "/locks/" + url.PathEscape(name) + "/" + op
}

func bodySnippet(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) > errorBodyLimit {
		return string(body[:errorBodyLimit]) + "..."
	}
	return string(body)
}
