package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/octostore/octostore/api"
	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
	"github.com/octostore/octostore/internal/webhook"
)

// wantErrors is every sentinel of state, cluster, httpapi, auth and
// webhook that reaches the error table, with the status and code the
// served spec documents for it. Sentinels that never reach it:
// state.ErrCorrupt (log and snapshot decoding), state.ErrWaiterNotFound
// (handled by the wait code), cluster.ErrNoNodeAuth, ErrBothNodeAuth,
// ErrHandshake, ErrTransportClosed (startup and the node channel),
// auth.ErrGrantRevoked (always wrapped with auth.ErrGitHub).
var wantErrors = []struct {
	name   string
	err    error
	status int
	code   string
}{
	{"httpapi.ErrInvalidInput", ErrInvalidInput, 422, "validation_error"},
	{"httpapi.ErrBodyTooLarge", ErrBodyTooLarge, 413, "payload_too_large"},
	{"httpapi.ErrBodyTimeout", ErrBodyTimeout, 408, "request_timeout"},
	{"httpapi.ErrUnauthorized", ErrUnauthorized, 401, "unauthorized"},
	{"httpapi.ErrRouteNotFound", ErrRouteNotFound, 404, "not_found"},
	{"httpapi.ErrMethodNotAllowed", ErrMethodNotAllowed, 405, "method_not_allowed"},
	{"httpapi.ErrForbidden", ErrForbidden, 403, "forbidden"},
	{"httpapi.ErrTokenScope", ErrTokenScope, 403, "token_scope"},
	{"tenancy.ErrForbiddenNamespace", tenancy.ErrForbiddenNamespace, 403, "forbidden_namespace"},
	{"state.ErrNamespaceOwnedByOther", state.ErrNamespaceOwnedByOther, 403, "namespace_owned_by_other_account"},
	{"state.ErrTooManyTokens", state.ErrTooManyTokens, 429, "too_many_tokens"},
	{"httpapi.ErrNoSignIn", ErrNoSignIn, 404, "github_not_configured"},
	{"httpapi.ErrBadRequest", ErrBadRequest, 400, "bad_request"},
	{"httpapi.ErrRateLimited", ErrRateLimited, 429, "rate_limited"},
	{"httpapi.ErrTooManyInFlight", ErrTooManyInFlight, 429, "too_many_in_flight"},
	{"httpapi.ErrTooManyFailedAuth", retryError{ErrTooManyFailedAuth, time.Minute}, 429, "too_many_failed_authentications"},
	{"httpapi.ErrOverloaded", ErrOverloaded, 503, "overloaded"},
	{"httpapi.ErrNotReady", ErrNotReady, 503, "not_ready"},
	{"httpapi.ErrTooManyStreams", ErrTooManyStreams, 429, "too_many_streams"},
	{"httpapi.ErrClientGone", ErrClientGone, StatusClientClosedRequest, "client_closed_request"},
	{"context.Canceled", context.Canceled, StatusClientClosedRequest, "client_closed_request"},
	{"context.DeadlineExceeded", context.DeadlineExceeded, 503, "timeout"},
	{"state.ErrLockHeld", withConflict(state.ErrLockHeld, state.Result{Lock: state.Lock{Name: "a"}, Holder: "alice"}), 409, "lock_held"},
	{"state.ErrLimitMismatch", withLimit(state.ErrLimitMismatch, state.Result{Limit: 3, Lock: state.Lock{Name: "a"}, Holder: "alice"}), 409, "limit_mismatch"},
	{"state.ErrLockNotFound", state.ErrLockNotFound, 404, "lock_not_found"},
	{"state.ErrSessionNotFound", state.ErrSessionNotFound, 404, "session_not_found"},
	{"state.ErrSessionExpired", state.ErrSessionExpired, 410, "session_expired"},
	{"state.ErrSessionInvalid", state.ErrSessionInvalid, 422, "invalid_session"},
	{"state.ErrUnknownUser", state.ErrUnknownUser, 401, "unauthorized"},
	{"state.ErrInvalidCommand", state.ErrInvalidCommand, 422, "validation_error"},
	{"state.ErrTokenNotFound", state.ErrTokenNotFound, 404, "token_not_found"},
	{"state.ErrNamespaceNotBound", state.ErrNamespaceNotBound, 404, "namespace_not_found"},
	{"state.ErrTooManyWebhooks", state.ErrTooManyWebhooks, 400, "too_many_webhooks"},
	{"state.ErrWebhookNotFound", state.ErrWebhookNotFound, 404, "webhook_not_found"},
	{"state.ErrTooManyLocks", state.ErrTooManyLocks, 429, "too_many_locks"},
	{"state.ErrTooManySessions", state.ErrTooManySessions, 429, "too_many_sessions"},
	{"cluster.ErrNotLeader", cluster.ErrNotLeader, 503, "no_leader"},
	{"cluster.ErrOutcomeUnknown", cluster.ErrOutcomeUnknown, 503, "outcome_unknown"},
	{"cluster.ErrShutdown", cluster.ErrShutdown, 503, "shutting_down"},
	{"cluster.ErrJoinRefused", cluster.ErrJoinRefused, 403, "join_refused"},
	{"cluster.ErrNotClustered", cluster.ErrNotClustered, 409, "not_clustered"},
	{"cluster.ErrUnknownMember", cluster.ErrUnknownMember, 404, "node_not_found"},
	{"auth.ErrBadState", auth.ErrBadState, 401, "sign_in_failed"},
	{"auth.ErrNotAllowed", auth.ErrNotAllowed, 401, "not_allowed"},
	{"auth.ErrGitHub", auth.ErrGitHub, 401, "sign_in_failed"},
	// Registration turns a refused target into the 422 naming it.
	{"webhook.ErrForbiddenTarget", invalid("%v", webhook.ErrForbiddenTarget), 422, "validation_error"},
}

// TestErrorTable_EverySentinel answers every sentinel, wrapped as the
// layers wrap them, and checks status, code and body shape against the
// served spec; and that no table row goes untested.
func TestErrorTable_EverySentinel(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.Spec)
	if err != nil {
		t.Fatal(err)
	}
	declared := declaredStatuses(doc)
	a := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	covered := map[error]bool{}
	for _, tc := range wantErrors {
		w := httptest.NewRecorder()
		a.writeError(w, httptest.NewRequest("GET", "/", nil), fmt.Errorf("layer: %w", tc.err))
		var b map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
			t.Fatalf("%s: body %q: %v", tc.name, w.Body, err)
		}
		if w.Code != tc.status || b["code"] != tc.code {
			t.Errorf("%s: %d %v, want %d %s", tc.name, w.Code, b["code"], tc.status, tc.code)
		}
		if _, exempt := outsideSpec[tc.status]; !exempt && !declared[tc.status] {
			t.Errorf("%s: status %d is not in the spec", tc.name, tc.status)
		}
		schema := "Error"
		if tc.status == http.StatusConflict && (tc.code == "lock_held" || tc.code == "limit_mismatch") {
			schema = "LockConflict"
		}
		if err := doc.Components.Schemas[schema].Value.VisitJSON(b); err != nil {
			t.Errorf("%s: body %s is not a %s: %v", tc.name, w.Body, schema, err)
		}
		for _, row := range errorStatus {
			if errors.Is(tc.err, row.err) {
				covered[row.err] = true
			}
		}
	}
	for _, row := range errorStatus {
		if !covered[row.err] {
			t.Errorf("table row %v (%d %s) has no case here", row.err, row.status, row.code)
		}
	}
}

// outsideSpec are statuses no operation of the spec can declare, and why.
var outsideSpec = map[int]string{
	StatusClientClosedRequest:   "no client is left to read it; it is for the log and the metrics",
	http.StatusMethodNotAllowed: "it answers methods the spec has no operation for",
}

func declaredStatuses(doc *openapi3.T) map[int]bool {
	out := map[int]bool{}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for code := range op.Responses.Map() {
				if n, err := strconv.Atoi(code); err == nil {
					out[n] = true
				}
			}
		}
	}
	return out
}

// TestWriteError_DeadlineIsTheClients: a deadline the request's own
// context ran into is the client leaving (499); one inside the server,
// with the client still there, is a server timeout (503).
func TestWriteError_DeadlineIsTheClients(t *testing.T) {
	a := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for _, tc := range []struct {
		ctx  context.Context
		want int
	}{{ctx, StatusClientClosedRequest}, {context.Background(), http.StatusServiceUnavailable}} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/", nil).WithContext(tc.ctx)
		a.writeError(w, r, fmt.Errorf("apply: %w", context.DeadlineExceeded))
		if w.Code != tc.want {
			t.Errorf("client context err %v: %d, want %d", tc.ctx.Err(), w.Code, tc.want)
		}
	}
}

// stallingStore holds every Apply until its caller gives up, as a commit
// that takes longer than the client waits.
type stallingStore struct {
	*memStore
	entered chan struct{}
}

func (s stallingStore) Apply(ctx context.Context, _ state.Command) (state.Result, error) {
	s.entered <- struct{}{}
	<-ctx.Done()
	return state.Result{}, ctx.Err()
}

// recordingMetrics keeps the status of every observed request.
type recordingMetrics struct {
	http.Handler
	mu       sync.Mutex
	statuses []int
}

func (m *recordingMetrics) ObserveRequest(_, _ string, status int, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statuses = append(m.statuses, status)
}

func (m *recordingMetrics) seen() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int(nil), m.statuses...)
}

// lockedBuffer is a log sink for this package's internal tests, which
// cannot import apitest.LogBuffer (apitest imports this package).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestClientDisconnect_Is499NotAnError: a client that gives up while its
// change is being committed is counted as 499 and logged at debug, never
// as an unmapped error or a 5xx.
func TestClientDisconnect_Is499NotAnError(t *testing.T) {
	st := state.New()
	st.Apply(state.Batch{Now: time.Now().UnixNano(), Commands: []state.Command{state.SyncStaticUsers{Users: []state.StaticUser{
		{ID: fuzzUser, Login: "fuzzer", Hashes: []state.TokenHash{state.HashToken(fuzzToken)}}}}}})
	store := stallingStore{memStore: &memStore{st: st}, entered: make(chan struct{}, 1)}
	var logs lockedBuffer
	metrics := &recordingMetrics{}
	a := New(Config{Store: store, Metrics: metrics,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	srv := httptest.NewServer(a)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/locks/gone/acquire", bytes.NewReader([]byte(`{"ttl_seconds":30}`)))
	req.Header.Set("Authorization", "Bearer "+fuzzToken)
	req.Header.Set("Content-Type", "application/json")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-store.entered // the acquire is being committed
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want its own cancellation", err)
	}
	poll.Until(t, 5*time.Second, "the request is observed", func() bool { return len(metrics.seen()) == 1 })
	if got := metrics.seen()[0]; got != StatusClientClosedRequest {
		t.Fatalf("metrics saw %d, want 499", got)
	}
	out := logs.String()
	if strings.Contains(out, "level=ERROR") || !strings.Contains(out, "level=DEBUG msg=\"client closed request\"") {
		t.Fatalf("log:\n%s", out)
	}
}
