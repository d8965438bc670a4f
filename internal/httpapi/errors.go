package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/state"
)

// Errors of this layer; the state and cluster layers contribute theirs.
var (
	ErrInvalidInput     = errors.New("invalid input")
	ErrBodyTooLarge     = errors.New("request body too large")
	ErrUnauthorized     = errors.New("unauthorized")
	ErrRouteNotFound    = errors.New("route not found")
	ErrMethodNotAllowed = errors.New("method not allowed")
)

// inputError says exactly what is wrong with a request; it is an
// ErrInvalidInput.
type inputError struct{ msg string }

func (e inputError) Error() string { return e.msg }
func (e inputError) Unwrap() error { return ErrInvalidInput }

func invalid(format string, args ...any) error { return inputError{fmt.Sprintf(format, args...)} }

// errorStatus is the one table from errors to HTTP answers. msg replaces
// the error's own text where the seed fixes the wording; empty keeps it.
var errorStatus = []struct {
	err    error
	status int
	code   string
	msg    string
}{
	{ErrInvalidInput, http.StatusUnprocessableEntity, "validation_error", ""},
	{ErrBodyTooLarge, http.StatusRequestEntityTooLarge, "payload_too_large", "Request body is larger than 64 KiB"},
	{ErrUnauthorized, http.StatusUnauthorized, "unauthorized", "Invalid or missing authorization header"},
	{ErrRouteNotFound, http.StatusNotFound, "not_found", "No such route"},
	{ErrMethodNotAllowed, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed on this route"},
	{state.ErrLockHeld, http.StatusConflict, "lock_held", "Lock already held"},
	{state.ErrLockNotFound, http.StatusNotFound, "lock_not_found", "Lock not found or not owned by caller"},
	{state.ErrSessionNotFound, http.StatusNotFound, "session_not_found", "Session not found"},
	{state.ErrSessionExpired, http.StatusGone, "session_expired", "Session expired"},
	{state.ErrSessionInvalid, http.StatusUnprocessableEntity, "invalid_session", "session_id is unknown, not yours, or no longer active"},
	{state.ErrUnknownUser, http.StatusUnauthorized, "unauthorized", "Invalid or missing authorization header"},
	{state.ErrInvalidCommand, http.StatusUnprocessableEntity, "validation_error", ""},
	{cluster.ErrNotLeader, http.StatusServiceUnavailable, "no_leader", "No leader available, retry shortly"},
	{cluster.ErrOutcomeUnknown, http.StatusServiceUnavailable, "outcome_unknown", "Leadership was lost while committing: the change may or may not have been applied"},
	{cluster.ErrShutdown, http.StatusServiceUnavailable, "shutting_down", "Server is shutting down, retry on another node"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "timeout", "Request timed out"},
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
	for _, e := range errorStatus {
		if errors.Is(err, e.err) {
			msg := e.msg
			if msg == "" {
				msg = err.Error()
			}
			if e.status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "1")
			}
			writeJSON(w, e.status, errorBody{Error: msg, Code: e.code})
			return
		}
	}
	a.log.Error("unmapped error", "err", err, "request_id", w.Header().Get("X-Request-Id"), "path", r.URL.Path)
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "Internal error", Code: "internal"})
}
