package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
)

// Errors of this layer; the state and cluster layers contribute theirs.
var (
	ErrInvalidInput     = errors.New("invalid input")
	ErrBodyTooLarge     = errors.New("request body too large")
	ErrBodyTimeout      = errors.New("request body not received in time")
	ErrUnauthorized     = errors.New("unauthorized")
	ErrRouteNotFound    = errors.New("No such route")
	ErrMethodNotAllowed = errors.New("method not allowed")
	ErrForbidden        = errors.New("forbidden")
	ErrNoSignIn         = errors.New("GitHub sign-in is not configured")
	// ErrClientGone marks a context error caused by the client leaving
	// (closing the connection or cancelling): not a server failure.
	ErrClientGone = errors.New("client closed request")
)

// StatusClientClosedRequest is nginx's 499: no client reads it, but the
// request log and the metrics record it, apart from the server's own
// failures (5xx).
const StatusClientClosedRequest = 499

// inputError says exactly what is wrong with a request; it is an
// ErrInvalidInput.
type inputError struct{ msg string }

func (e inputError) Error() string { return e.msg }
func (e inputError) Unwrap() error { return ErrInvalidInput }

func invalid(format string, args ...any) error { return inputError{fmt.Sprintf(format, args...)} }

// errorStatus is the one table from errors to HTTP answers. msg replaces
// the error's own text where the seed fixes the wording; empty keeps it.
// With details, the error's own text goes to the details field.
var errorStatus = []errorRow{
	// Before context.DeadlineExceeded: a deadline the client's own context
	// ran into is the client's doing, not a server timeout.
	{ErrClientGone, StatusClientClosedRequest, "client_closed_request", "Client closed request", false},
	{context.Canceled, StatusClientClosedRequest, "client_closed_request", "Client closed request", false},
	{ErrInvalidInput, http.StatusUnprocessableEntity, "validation_error", "", false},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large", "Request body is larger than 64 KiB", false},
	{ErrBodyTimeout, http.StatusRequestTimeout, "request_timeout", "The request body did not arrive in time", false},
	{ErrUnauthorized, http.StatusUnauthorized, "unauthorized", "Invalid or missing authorization header", false},
	{ErrRouteNotFound, http.StatusNotFound, "not_found", "", false}, // its own text: a hint may follow
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed on this route", false},
	{state.ErrLockHeld, http.StatusConflict, "lock_held", "Lock already held", false},
	{state.ErrLimitMismatch, http.StatusConflict, "limit_mismatch", "", false}, // its own text names the limit
	{state.ErrLockNotFound, http.StatusNotFound, "lock_not_found", "Lock not found or not owned by caller", false},
	{state.ErrSessionNotFound, http.StatusNotFound, "session_not_found", "Session not found", false},
	{state.ErrSessionExpired, http.StatusGone, "session_expired", "Session expired", false},
	{state.ErrSessionInvalid, http.StatusUnprocessableEntity, "invalid_session", "session_id is unknown, not yours, or no longer active", false},
	{state.ErrUnknownUser, http.StatusUnauthorized, "unauthorized", "Invalid or missing authorization header", false},
	{state.ErrInvalidCommand, http.StatusUnprocessableEntity, "validation_error", "", false},
	{cluster.ErrNotLeader, http.StatusServiceUnavailable, "no_leader", "No leader available, retry shortly", false},
	{cluster.ErrOutcomeUnknown, http.StatusServiceUnavailable, "outcome_unknown", "Leadership was lost while committing: the change may or may not have been applied", false},
	{cluster.ErrShutdown, http.StatusServiceUnavailable, "shutting_down", "Server is shutting down, retry on another node", false},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "Request timed out", false},
	{ErrForbidden, http.StatusForbidden, "forbidden", "Only an administrator may do this", false},
	{ErrTokenScope, http.StatusForbidden, "token_scope", "This token's scope does not cover this request", false},
	{tenancy.ErrForbiddenNamespace, http.StatusForbidden, "forbidden_namespace", "This lock name is outside your namespaces", true},
	{state.ErrNamespaceOwnedByOther, http.StatusForbidden, "namespace_owned_by_other_account", "This namespace is bound to another account", true},
	{state.ErrTooManyTokens, http.StatusTooManyRequests, "too_many_tokens", "You have as many tokens as you may; revoke some first", false},
	{ErrNoSignIn, http.StatusNotFound, "github_not_configured", "GitHub sign-in is not configured on this server", false},
	{auth.ErrBadState, http.StatusUnauthorized, "sign_in_failed", "GitHub sign-in failed", true},
	{auth.ErrNotAllowed, http.StatusUnauthorized, "not_allowed", "This GitHub account may not sign in here", true},
	{auth.ErrGitHub, http.StatusUnauthorized, "sign_in_failed", "GitHub sign-in failed", true},
	{state.ErrTokenNotFound, http.StatusNotFound, "token_not_found", "Token not found", false},
	{state.ErrNamespaceNotBound, http.StatusNotFound, "namespace_not_found", "Namespace is not bound", false},
	{ErrBadRequest, http.StatusBadRequest, "bad_request", "", false},
	{state.ErrTooManyWebhooks, http.StatusBadRequest, "too_many_webhooks", "At most 10 webhooks per user", false},
	{state.ErrWebhookNotFound, http.StatusNotFound, "webhook_not_found", "Webhook not found", false},
	{cluster.ErrJoinRefused, http.StatusForbidden, "join_refused", "", false},
	{cluster.ErrNotClustered, http.StatusConflict, "not_clustered", "", false},
	{cluster.ErrUnknownMember, http.StatusNotFound, "node_not_found", "No such cluster member", false},
	{state.ErrTooManyLocks, http.StatusTooManyRequests, "too_many_locks", "You hold as many locks as you may; release some first", false},
	{state.ErrTooManySessions, http.StatusTooManyRequests, "too_many_sessions", "You have as many live sessions as you may; end some first", false},
	{ErrRateLimited, http.StatusTooManyRequests, "rate_limited", "Too many requests; retry after the time in Retry-After", false},
	{ErrTooManyFailedAuth, http.StatusTooManyRequests, "too_many_failed_authentications", "Too many failed authentications from your address; retry after the time in Retry-After", false},
	{ErrTooManyInFlight, http.StatusTooManyRequests, "too_many_in_flight", "Too many of your requests are in progress on this node; retry after the time in Retry-After", false},
	{ErrOverloaded, http.StatusServiceUnavailable, "overloaded", "Server is at its limit of concurrent requests, retry shortly", false},
	{ErrNotReady, http.StatusServiceUnavailable, "not_ready", "This node cannot serve linearizable requests now", true},
	{ErrTooManyStreams, http.StatusTooManyRequests, "too_many_streams", "Too many event streams are open; close one or retry later", false},
}

// errorRow maps one sentinel error to its answer.
type errorRow struct {
	err     error
	status  int
	code    string
	msg     string
	details bool
}

// errorBody is the seed's Error schema plus the code addition.
type errorBody struct {
	Error   string `json:"error"`
	Details string `json:"details,omitempty"`
	Code    string `json:"code,omitempty"`
}

// writeError answers err with its status from the table. An error missing
// from the table is a bug: it is logged and answered 500 without detail.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	err = clientGone(r, err)
	i := slices.IndexFunc(errorStatus, func(e errorRow) bool { return errors.Is(err, e.err) })
	if i < 0 {
		a.log.Error("unmapped error", "err", err, "request_id", w.Header().Get("X-Request-Id"), "path", r.URL.Path)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "Internal error", Code: "internal"})
		return
	}
	e := errorStatus[i]
	if e.status == StatusClientClosedRequest {
		a.log.Debug("client closed request", "err", err, "request_id", w.Header().Get("X-Request-Id"), "path", r.URL.Path)
	}
	if e.status == http.StatusServiceUnavailable || e.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", retryAfter(err))
	}
	writeJSON(w, e.status, e.body(err))
}

// body is the JSON answer for err, which matched row e.
func (e errorRow) body(err error) any {
	b := errorBody{Error: e.msg, Code: e.code}
	if b.Error == "" {
		b.Error = err.Error()
	}
	if e.details {
		b.Details = err.Error()
	}
	var h heldError
	if errors.As(err, &h) {
		return h.body(b)
	}
	return b
}

// clientGone marks a context error as the client's when the request's own
// context has ended: the client closed the connection or gave up, so the
// server did not fail.
func clientGone(r *http.Request, err error) error {
	if r.Context().Err() == nil || errors.Is(err, ErrClientGone) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrClientGone, err)
	}
	return err
}

// conflictLock is the lock a refused acquire conflicts with.
type conflictLock struct {
	Name      string    `json:"name"`
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
}

// conflictBody is the seed's LockConflict, with the error code.
type conflictBody struct {
	Error string       `json:"error"`
	Code  string       `json:"code"`
	Lock  conflictLock `json:"lock"`
}

// heldError is a 409 refusal with the lock it conflicts with, which the
// seed's 409 (LockConflict) shows: state.ErrLockHeld (withConflict), or
// state.ErrLimitMismatch with the limit the current holders asked with,
// which its 409 names as well (withLimit).
type heldError struct {
	err   error
	lock  conflictLock
	limit int // a limit mismatch's current limit
}

func (e heldError) mismatch() bool { return errors.Is(e.err, state.ErrLimitMismatch) }

func (e heldError) Error() string {
	if e.mismatch() {
		return fmt.Sprintf("limit differs from the current holders' limit (%d)", e.limit)
	}
	return e.err.Error()
}
func (e heldError) Unwrap() error { return e.err }

// body is the 409's JSON, with b's error and code: the seed's
// LockConflict, and for a limit mismatch the current limit too.
func (e heldError) body(b errorBody) any {
	if e.mismatch() {
		return limitBody{Error: b.Error, Code: b.Code, Lock: e.lock, Limit: e.limit}
	}
	return conflictBody{Error: b.Error, Code: b.Code, Lock: e.lock}
}

// withConflict attaches res's conflicting lock to a held-lock refusal;
// other errors pass unchanged.
func withConflict(err error, res state.Result) error {
	if !errors.Is(err, state.ErrLockHeld) {
		return err
	}
	return heldError{err: err, lock: conflictLock{Name: res.Lock.Name, Holder: res.Holder,
		ExpiresAt: unixTime(res.Lock.ExpiresAt)}}
}
