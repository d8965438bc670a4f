package client

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Sentinel errors. An *APIError matches the one its status and code stand
// for with errors.Is.
var (
	// ErrLockHeld: another holder has the lock (409 lock_held).
	ErrLockHeld = errors.New("lock held by another holder")
	// ErrLimitMismatch: a semaphore acquired with another limit than its
	// current holders' (409 limit_mismatch); APIError.Limit is theirs.
	ErrLimitMismatch = errors.New("limit differs from the current holders'")
	// ErrNotFound: the lock, lease, session, webhook or token does not
	// exist or is not the caller's (404).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the token is missing, wrong or revoked (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: only an administrator may do this, or the token's
	// scope does not cover it (403).
	ErrForbidden = errors.New("forbidden")
	// ErrTokenScope: a scoped token used outside its prefixes or access
	// (403 token_scope); it is also an ErrForbidden.
	ErrTokenScope = errors.New("token scope does not cover this request")
	// ErrSessionExpired: the session has ended (410).
	ErrSessionExpired = errors.New("session expired")
	// ErrInvalid: the server refused the request's input (400, 413, 422).
	ErrInvalid = errors.New("invalid request")
	// ErrRateLimited: too many requests or streams (429).
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: the server cannot answer now (503, or unreachable
	// after the retries).
	ErrUnavailable = errors.New("server unavailable")
	// ErrOutcomeUnknown: a write was sent but its answer was lost (503
	// outcome_unknown, a timeout or broken connection after sending). It
	// may or may not have been applied; read the state to find out.
	ErrOutcomeUnknown = errors.New("outcome unknown: the request may or may not have been applied")
	// ErrLeaseLost is the cause of a Lease's cancelled Context: the lease
	// could no longer be proven held.
	ErrLeaseLost = errors.New("lease lost")
	// ErrSessionLost is the cause of a Session's cancelled Context.
	ErrSessionLost = errors.New("session lost")
	// ErrLeadershipLost is the cause of a Leadership's cancelled Context:
	// the leader's lease could no longer be proven held. It is also an
	// ErrLeaseLost.
	ErrLeadershipLost = fmt.Errorf("leadership %w", ErrLeaseLost)
)

// Conflict is who holds a lock, or who leads an election, from a 409
// answer.
type Conflict struct {
	Name      string    `json:"name"`
	Holder    string    `json:"holder"`
	ExpiresAt time.Time `json:"expires_at"`
}

// APIError is an answer of the server other than success.
type APIError struct {
	Method     string        // the request's method
	Path       string        // the request's path
	StatusCode int           // HTTP status
	Code       string        // machine-readable code: lock_held, no_leader, ...
	Message    string        // the server's message
	Details    string        // more detail, when the server gives it
	RequestID  string        // X-Request-Id, for the server's logs
	RetryAfter time.Duration // Retry-After, when given
	Conflict   *Conflict     // the current holder (or leader), on 409 lock_held and limit_mismatch
	Limit      int           // on 409 limit_mismatch: the current holders' limit
}

// Error describes the refusal with its request ID.
func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.StatusCode, e.Message)
	if e.Details != "" {
		msg += ": " + e.Details
	}
	if e.Conflict != nil {
		msg += fmt.Sprintf(" (holder %s until %s)", e.Conflict.Holder, e.Conflict.ExpiresAt.Format(time.RFC3339))
	}
	if e.Code != "" {
		msg += " [" + e.Code + "]"
	}
	if e.RequestID != "" {
		msg += " request " + e.RequestID
	}
	return msg
}

// Is matches the sentinel of the error's status and code.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrLockHeld:
		return e.StatusCode == http.StatusConflict && e.Code == "lock_held"
	case ErrLimitMismatch:
		return e.StatusCode == http.StatusConflict && e.Code == "limit_mismatch"
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrTokenScope:
		return e.StatusCode == http.StatusForbidden && e.Code == "token_scope"
	case ErrSessionExpired:
		return e.StatusCode == http.StatusGone
	case ErrInvalid:
		return e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusRequestEntityTooLarge ||
			e.StatusCode == http.StatusUnprocessableEntity
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrUnavailable:
		return e.StatusCode == http.StatusServiceUnavailable
	case ErrOutcomeUnknown:
		return e.StatusCode == http.StatusServiceUnavailable && e.unknownOutcome()
	}
	return false
}

// unknownOutcome: the server says a write may have been applied. A
// server-side timeout of a write is the same: it was queued.
func (e *APIError) unknownOutcome() bool {
	return e.Code == "outcome_unknown" || (e.Code == "timeout" && e.Method != http.MethodGet)
}

// notApplied: the server says nothing was applied, so the request may be
// sent again whatever it is.
func (e *APIError) notApplied() bool {
	return e.StatusCode == http.StatusServiceUnavailable && (e.Code == "no_leader" || e.Code == "shutting_down")
}

// HeldBy returns the holder of the lock from an ErrLockHeld error.
func HeldBy(err error) (Conflict, bool) {
	var e *APIError
	if errors.As(err, &e) && e.Conflict != nil {
		return *e.Conflict, true
	}
	return Conflict{}, false
}

// newAPIError reads an error answer.
func newAPIError(method, path string, resp *http.Response, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, StatusCode: resp.StatusCode,
		RequestID: resp.Header.Get("X-Request-Id")}
	var b struct {
		Error   string    `json:"error"`
		Details string    `json:"details"`
		Code    string    `json:"code"`
		Lock    *Conflict `json:"lock"`
		Leader  *Conflict `json:"leader"` // a campaign's 409
		Limit   int       `json:"limit"`
	}
	if json.Unmarshal(body, &b) == nil {
		e.Message, e.Details, e.Code = b.Error, b.Details, b.Code
		if resp.StatusCode == http.StatusConflict {
			e.Conflict, e.Limit = cmp.Or(b.Lock, b.Leader), b.Limit
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}
