package httpapi

import (
	"errors"
	"sync"
	"time"
)

// ErrTooManyFailedAuth refuses a request without a valid token from an
// address that has failed to authenticate too often lately.
var ErrTooManyFailedAuth = errors.New("too many failed authentications from this address")

// authFailureWindow is the period AuthFailureLimit counts failures over.
const authFailureWindow = time.Minute

// authFailures counts failed authentications per client address, to slow
// down token guessing. It only ever refuses requests that carry no valid
// token: the token is looked up first, so a valid one is served however
// many failures its address has (a NAT or a follower shares an address
// with whoever is guessing). Each address gets a window of
// authFailureWindow from its first failure; within it, failures beyond
// the limit are refused until the window ends. Refused attempts do not
// count: a guesser gets at most limit tries a window, and the window
// ending is a fixed moment the Retry-After can name.
type authFailures struct {
	limit   int
	mu      sync.Mutex
	windows map[clientKey]*failWindow
	swept   time.Time
}

type failWindow struct {
	start time.Time
	count int
}

func newAuthFailures(limit int) *authFailures {
	if limit <= 0 {
		return nil
	}
	return &authFailures{limit: limit, windows: map[clientKey]*failWindow{}}
}

// fail records one failed authentication from k, or says how long k must
// wait when it has used up its failures. A nil counter refuses nothing.
func (f *authFailures) fail(k clientKey, now time.Time) (time.Duration, bool) {
	if f == nil {
		return 0, true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.windows[k]
	if w == nil || now.Sub(w.start) >= authFailureWindow {
		f.sweep(now)
		w = &failWindow{start: now}
		f.windows[k] = w
	}
	if w.count >= f.limit {
		return w.start.Add(authFailureWindow).Sub(now), false
	}
	w.count++
	return 0, true
}

// sweep drops ended windows when there are many, at most once a second,
// so memory follows the addresses failing now, not every one ever seen.
func (f *authFailures) sweep(now time.Time) {
	if len(f.windows) < sweepAbove || now.Sub(f.swept) < time.Second {
		return
	}
	f.swept = now
	for k, w := range f.windows {
		if now.Sub(w.start) >= authFailureWindow {
			delete(f.windows, k)
		}
	}
}

// authFailed turns a failed authentication of req into its answer: still
// 401 while its address has failures left, 429 with Retry-After after.
func (a *API) authFailed(req *request, err error) error {
	if !errors.Is(err, ErrUnauthorized) {
		return err // the lookup itself failed: not the caller's doing
	}
	if wait, ok := a.authFails.fail(addrKey(req.RemoteAddr), time.Now()); !ok {
		return retryError{ErrTooManyFailedAuth, wait}
	}
	return err
}
