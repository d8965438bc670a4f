package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Client talks to one OctoStore server (any node of a cluster) as the
// owner of one bearer token. It is safe for concurrent use.
type Client struct {
	base  string
	token atomic.Pointer[string]
	http  *http.Client
	retry Retry
	agent string
	tls   *tls.Config // WithTLS's, applied to http by New
}

// Retry is how the client repeats a request that is safe to repeat.
type Retry struct {
	Attempts int           // attempts in all, at least 1
	Min      time.Duration // the first backoff; each later one doubles
	Max      time.Duration // the longest backoff
}

// DefaultRetry is the retry policy of a new Client.
var DefaultRetry = Retry{Attempts: 5, Min: 50 * time.Millisecond, Max: 2 * time.Second}

// Option changes a new Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc. Calls are
// bounded by their contexts, so hc needs no Timeout (a Timeout would cut
// blocking reads and waiting acquires short).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithRetry replaces DefaultRetry.
func WithRetry(r Retry) Option { return func(c *Client) { c.retry = r } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.agent = ua } }

// New returns a client of the server at baseURL ("http://127.0.0.1:3000")
// that authenticates with token.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q: want http(s)://host[:port]", ErrInvalid, baseURL)
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), http: &http.Client{}, retry: DefaultRetry,
		agent: "octostore-client-go"}
	c.token.Store(&token)
	for _, o := range opts {
		o(c)
	}
	if err := c.applyTLS(); err != nil {
		return nil, err
	}
	c.retry.Attempts = max(c.retry.Attempts, 1)
	return c, nil
}

// BaseURL is the server's base URL.
func (c *Client) BaseURL() string { return c.base }

// Token is the bearer token the client sends (the new one after
// RotateToken).
func (c *Client) Token() string { return *c.token.Load() }

// kind says when a request may be repeated.
type kind int

const (
	write      kind = iota // repeated only if never sent or not applied
	idempotent             // also repeated when the outcome is unknown
	read                   // repeated on any failure to get an answer
)

// call is one API request and what came of it.
type call struct {
	method, path string
	query        url.Values
	body         any // marshalled to JSON; nil for no body
	kind         kind
	out          any         // a 2xx JSON answer is decoded into it
	header       http.Header // the answer's headers
	uncertain    bool        // an earlier attempt may have been applied
	stream       bool        // keep a 2xx body open in resp, unread
	resp         *http.Response
}

// transportError is a failure to get an answer; sent says whether the
// request may have reached the server, refused that a TLS handshake
// failed (nothing reached it, and repeating would fail the same way).
type transportError struct {
	err     error
	sent    bool
	refused bool
}

// Error is the underlying error's text.
func (e *transportError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *transportError) Unwrap() error { return e.err }

// do sends k, repeating it while that is safe, and returns the final
// error classified with the package's sentinels.
func (c *Client) do(ctx context.Context, k *call) error {
	var body []byte
	if k.body != nil {
		var err error
		if body, err = json.Marshal(k.body); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, k, body)
		if err == nil || attempt >= c.retry.Attempts || ctx.Err() != nil || !k.retryable(err) {
			return k.classify(err)
		}
		if !sleep(ctx, c.backoff(attempt, err)) {
			return k.classify(err)
		}
	}
}

// retryable says whether err allows sending k again, and notes when an
// attempt that may have been applied is being repeated.
func (k *call) retryable(err error) bool {
	var api *APIError
	if errors.As(err, &api) {
		switch {
		case api.notApplied():
			return true
		case k.kind == read:
			return api.StatusCode == http.StatusServiceUnavailable || api.StatusCode == http.StatusTooManyRequests
		case k.kind == idempotent && api.unknownOutcome():
			k.uncertain = true
			return true
		}
		return false
	}
	var te *transportError
	if !errors.As(err, &te) || te.refused {
		return false
	}
	switch {
	case !te.sent || k.kind == read:
		return true
	case k.kind == idempotent:
		k.uncertain = true
		return true
	}
	return false
}

// classify wraps a failure to get an answer with ErrUnavailable, or with
// ErrOutcomeUnknown when a write may have been applied.
func (k *call) classify(err error) error {
	var te *transportError
	if !errors.As(err, &te) {
		return err
	}
	if (te.sent && k.kind != read) || k.uncertain {
		return fmt.Errorf("%s %s: %w (%w): %w", k.method, k.path, ErrOutcomeUnknown, ErrUnavailable, te.err)
	}
	return fmt.Errorf("%s %s: %w: %w", k.method, k.path, ErrUnavailable, te.err)
}

// backoff is exponential with full jitter, and at least the server's
// Retry-After (up to Max).
func (c *Client) backoff(attempt int, err error) time.Duration {
	ceiling := min(c.retry.Max, c.retry.Min<<min(attempt-1, 20))
	d := time.Duration(0)
	if ceiling > 0 {
		d = time.Duration(rand.Int64N(int64(ceiling) + 1))
	}
	var api *APIError
	if errors.As(err, &api) && api.RetryAfter > 0 {
		d = max(d, min(api.RetryAfter, c.retry.Max))
	}
	return d
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// once sends k one time.
func (c *Client) once(ctx context.Context, k *call, body []byte) error {
	req, err := c.newRequest(ctx, k, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		refused := tlsRefused(err)
		return &transportError{err: err, sent: !refused && !neverSent(err), refused: refused}
	}
	if k.stream && resp.StatusCode/100 == 2 {
		k.header, k.resp = resp.Header, resp
		return nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return &transportError{err: err, sent: true}
	}
	k.header = resp.Header
	if resp.StatusCode/100 != 2 {
		return newAPIError(k.method, k.path, resp, data)
	}
	if k.out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, k.out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", k.method, k.path, err)
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, k *call, body []byte) (*http.Request, error) {
	u := c.base + k.path
	if len(k.query) > 0 {
		u += "?" + k.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := c.Token(); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("User-Agent", c.agent)
	return req, nil
}

// neverSent: the connection could not be made, so the server cannot have
// seen the request. (Go's transport itself repeats a request whose reused
// connection died before anything was written.)
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// lockPath is the escaped path of a lock name, '/' kept as separator.
func lockPath(name string, action ...string) string { return namedPath("/locks/", name, action...) }

// namedPath is base followed by the escaped name, '/' kept as separator,
// and the actions.
func namedPath(base, name string, action ...string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	p := base + strings.Join(parts, "/")
	for _, a := range action {
		p += "/" + a
	}
	return p
}

// seconds is d in whole seconds, rounded up.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}
