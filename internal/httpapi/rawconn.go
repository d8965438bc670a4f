package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Some requests never reach a handler: net/http itself answers a request
// line it cannot parse (a bad percent escape in the path, "GET /\r\n"), a
// bad or missing Host, an invalid header, headers over MaxHeaderBytes
// (431), an unknown Transfer-Encoding (501), an HTTP version it does not
// serve (505) and an Expect other than 100-continue (417), each in
// text/plain. It has no hook for these, so JSONErrors catches them on the
// connection: a write that net/http makes while no handler runs on the
// connection is one of these answers, and is replaced by the same status
// as a JSON error with an X-Request-Id. net/http closes the connection
// after each, so nothing else is written after it.
//
// Over TLS, net/http must see the *tls.Conn itself (for r.TLS and its
// handshake handling), so the plaintext is out of reach: there these
// answers stay net/http's (ARCHITECTURE.md, Errors).

// JSONErrors prepares srv, which serves a over plain HTTP, and returns the
// listener it must serve. It also sends "OPTIONS *" to a, which answers it
// 404 like any other path, rather than to net/http's built-in handler.
func (a *API) JSONErrors(srv *http.Server, ln net.Listener) net.Listener {
	srv.DisableGeneralOptionsHandler = true
	prevState, prevContext := srv.ConnState, srv.ConnContext
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		if jc, ok := c.(*jsonErrConn); ok && s == http.StateIdle {
			jc.idle()
		}
		if prevState != nil {
			prevState(c, s)
		}
	}
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if jc, ok := c.(*jsonErrConn); ok {
			ctx = context.WithValue(ctx, connKey{}, jc)
		}
		if prevContext != nil {
			ctx = prevContext(ctx, c)
		}
		return ctx
	}
	return jsonErrListener{Listener: ln, a: a}
}

type connKey struct{}

// handling tells r's connection, if JSONErrors watches it, that a handler
// now answers on it.
func handling(r *http.Request) {
	if jc, ok := r.Context().Value(connKey{}).(*jsonErrConn); ok {
		jc.serving.Store(true)
	}
}

type jsonErrListener struct {
	net.Listener
	a *API
}

func (l jsonErrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrConn{Conn: c, a: l.a}, nil
}

// maxRequestLine bounds what is kept of a request's first line, to say
// what was wrong with it.
const maxRequestLine = 8 << 10

// jsonErrConn is one connection under JSONErrors.
type jsonErrConn struct {
	net.Conn
	a       *API
	serving atomic.Bool // a handler has started on the current request
	done    atomic.Bool // our answer is written: the rest is swallowed
	mu      sync.Mutex
	line    []byte // the start of the request's first line, read while no handler runs
}

// idle is the end of a request: the next one has no handler yet.
func (c *jsonErrConn) idle() {
	c.serving.Store(false)
	c.mu.Lock()
	c.line = c.line[:0]
	c.mu.Unlock()
}

// CloseWrite lets net/http half-close the connection as it does a bare
// TCP one, so that an answer sent before the rest of a request body (413,
// 431) reaches the client instead of being lost to a reset.
func (c *jsonErrConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *jsonErrConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.serving.Load() {
		c.mu.Lock()
		if !bytes.ContainsRune(c.line, '\n') && len(c.line) < maxRequestLine {
			c.line = append(c.line, b[:min(n, maxRequestLine-len(c.line))]...)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *jsonErrConn) Write(b []byte) (int, error) {
	if c.done.Load() {
		return len(b), nil
	}
	if c.serving.Load() || !bytes.HasPrefix(b, []byte("HTTP/1.")) {
		return c.Conn.Write(b)
	}
	status, reason := parseCanned(b)
	if status < 400 {
		return c.Conn.Write(b) // not a refusal; nothing to make JSON
	}
	c.done.Store(true)
	c.mu.Lock()
	line, _, _ := bytes.Cut(c.line, []byte("\n"))
	c.mu.Unlock()
	if _, err := c.Conn.Write(c.a.protocolAnswer(status, reason, string(line))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// protocolAnswer turns net/http's answer raw into a JSON error of the
// same status, saying what was wrong with the request line when it can.
func (a *API) protocolAnswer(status int, reason, line string) []byte {
	code, msg := protocolError(status, reason, line)
	id := a.newRequestID()
	a.log.Debug("malformed request", "request_id", id, "status", status, "error", msg)
	body, _ := json.Marshal(errorBody{Error: msg, Code: code})
	body = append(body, '\n')
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"+
		"X-Request-Id: %s\r\nDate: %s\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), id, time.Now().UTC().Format(http.TimeFormat), body)
}

// parseCanned reads the status and net/http's reason from one of its own
// answers: "HTTP/1.1 400 Bad Request: invalid header name\r\n...". A
// status it cannot read is 400.
func parseCanned(raw []byte) (status int, reason string) {
	first, rest, _ := bytes.Cut(raw, []byte("\r\n"))
	_, after, _ := strings.Cut(string(first), " ")
	code, text, _ := strings.Cut(after, " ")
	status, err := strconv.Atoi(code)
	if err != nil || status < 100 || status > 599 {
		status = http.StatusBadRequest
	}
	if _, why, ok := strings.Cut(text, ": "); ok {
		return status, why
	}
	if _, body, ok := bytes.Cut(rest, []byte("\r\n\r\n")); ok && !bytes.HasPrefix(body, []byte(code)) {
		return status, string(body) // "Unsupported transfer encoding"
	}
	return status, ""
}

// protocolError is the code and message of a request net/http refused.
func protocolError(status int, reason, line string) (code, msg string) {
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		return "headers_too_large", "Request headers are too large"
	case http.StatusExpectationFailed:
		return "expectation_failed", "Only Expect: 100-continue is supported"
	case http.StatusNotImplemented:
		return "not_implemented", "Malformed request: unsupported Transfer-Encoding"
	case http.StatusHTTPVersionNotSupported:
		return "http_version_not_supported", "Only HTTP/1.x is served on this connection"
	}
	if reason == "" {
		reason = requestLineProblem(line)
	}
	return "malformed_request", "Malformed request: " + reason
}

// requestLineProblem says what is wrong with a request line net/http
// refused without saying why.
func requestLineProblem(line string) string {
	parts := strings.Split(strings.TrimSuffix(line, "\r"), " ")
	if len(parts) != 3 {
		return "the request line must be METHOD TARGET HTTP/1.1, or a header is not valid"
	}
	_, err := url.ParseRequestURI(parts[1])
	var ue *url.Error
	if errors.As(err, &ue) {
		return "the request target is not a valid URL: " + ue.Err.Error()
	}
	return "the request line or a header is not valid HTTP"
}
