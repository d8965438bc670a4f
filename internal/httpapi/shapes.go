package httpapi

import (
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// Semaphores and read/write locks (issue #18) over the lock routes. An
// acquire of a mutex answers exactly as before, also one that says
// "limit": 1 or "mode": "exclusive" of a name held as a mutex or free: it
// is a mutex. One the state answers as a semaphore slot or a shared hold
// (res.Limit set) answers with the name's limit and mode as well, and a
// status read of such a name lists every holder.

// acquireShape reads an acquire's limit (1..MaxLimit slots) and mode
// (exclusive or shared).
func acquireShape(limit *wholeNumber, mode *string) (int, state.Mode, error) {
	n := 0
	if limit != nil {
		if *limit < 1 || *limit > state.MaxLimit {
			return 0, 0, invalid("limit must be between 1 and %d", state.MaxLimit)
		}
		n = int(*limit)
	}
	m := state.Exclusive
	if mode != nil {
		switch *mode {
		case "exclusive":
		case "shared":
			m = state.Shared
		default:
			return 0, 0, invalid(`mode must be "exclusive" or "shared"`)
		}
	}
	if m == state.Shared && n > 1 {
		return 0, 0, invalid("a shared acquire takes no limit above 1: read/write locks have one exclusive slot")
	}
	return n, m, nil
}

// holderView is one holder of a semaphore or read/write lock.
type holderView struct {
	LeaseID      uuid.UUID  `json:"lease_id"`
	FencingToken uint64     `json:"fencing_token"`
	Holder       string     `json:"holder"`
	ExpiresAt    time.Time  `json:"expires_at"`
	SessionID    *uuid.UUID `json:"session_id,omitempty"`
	Metadata     *string    `json:"metadata,omitempty"`
}

func newHolderView(l state.Lock, holder string) holderView {
	v := holderView{LeaseID: l.LeaseID, FencingToken: l.Token, Holder: holder, ExpiresAt: unixTime(l.ExpiresAt),
		Metadata: l.Metadata}
	if l.SessionID != uuid.Nil {
		v.SessionID = &l.SessionID
	}
	return v
}

// shaped reports whether a held name is more than a mutex: a semaphore,
// or a read/write lock held shared. (One held exclusively reads as a
// mutex, which it then is.)
func shaped(st state.LockStatus) bool { return st.Limit > 1 || st.Mode == state.Shared }

// withShape adds a name's limit and mode to an acquire's answer when the
// acquire took the shaped path (res.Limit set); a plain one is unchanged.
func withShape(resp lockResponse, res state.Result, mode state.Mode) lockResponse {
	if res.Limit > 0 {
		resp.Limit, resp.Mode, _ = shapeFields(res.Limit, mode, nil, nil)
	}
	return resp
}

// shapeFields are what a shaped name's answers add: its limit and mode,
// and for holders given, their views, with logins read through login.
func shapeFields(limit int, mode state.Mode, holders []state.Lock, login func(uuid.UUID) string) (*int, *string, []holderView) {
	m := mode.String()
	var views []holderView
	if holders != nil {
		views = make([]holderView, len(holders))
		for i, l := range holders {
			views[i] = newHolderView(l, login(l.HolderID))
		}
	}
	return &limit, &m, views
}

// statusResponse is a held name's status: its first holder as a mutex's
// status shows it, and for a shaped name, the limit, mode and holders.
// login reads a holder's login while the state is held.
func statusResponse(st state.LockStatus, login func(uuid.UUID) string) lockResponse {
	first := st.Holders[0]
	resp := newLockResponse("held", first, login(first.HolderID))
	resp.Waiters = &st.Waiting
	if shaped(st) {
		resp.Limit, resp.Mode, resp.Holders = shapeFields(st.Limit, st.Mode, st.Holders, login)
	}
	return resp
}

// limitBody is the 409 of a limit mismatch: the seed's LockConflict with
// the current limit.
type limitBody struct {
	Error string       `json:"error"`
	Code  string       `json:"code"`
	Lock  conflictLock `json:"lock"`
	Limit int          `json:"limit"`
}

// withLimit attaches the current limit and first holder to a limit
// mismatch (a heldError of state.ErrLimitMismatch); other errors pass
// unchanged.
func withLimit(err error, res state.Result) error {
	if errors.Is(err, state.ErrLimitMismatch) {
		return heldError{err: state.ErrLimitMismatch, lock: conflictLock{Name: res.Lock.Name, Holder: res.Holder,
			ExpiresAt: unixTime(res.Lock.ExpiresAt)}, limit: res.Limit}
	}
	return err
}
