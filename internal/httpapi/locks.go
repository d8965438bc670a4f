package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// lockResponse is the seed's LockResponse plus session_id and metadata.
type lockResponse struct {
	Status       string     `json:"status"`
	Name         string     `json:"name"`
	LeaseID      uuid.UUID  `json:"lease_id"`
	FencingToken uint64     `json:"fencing_token"`
	ExpiresAt    time.Time  `json:"expires_at"`
	Holder       string     `json:"holder"`
	SessionID    *uuid.UUID `json:"session_id,omitempty"`
	Metadata     *string    `json:"metadata,omitempty"`
	Waiters      *int       `json:"waiters,omitempty"` // on status reads: acquires queued behind the holder
	// A semaphore's or read/write lock's shape, and on status reads its
	// holders (shapes.go); absent for a mutex.
	Limit   *int         `json:"limit,omitempty"`
	Mode    *string      `json:"mode,omitempty"`
	Holders []holderView `json:"holders,omitempty"`
}

func newLockResponse(status string, l state.Lock, holder string) lockResponse {
	resp := lockResponse{Status: status, Name: l.Name, LeaseID: l.LeaseID, FencingToken: l.Token,
		ExpiresAt: unixTime(l.ExpiresAt), Holder: holder}
	if l.SessionID != uuid.Nil {
		resp.SessionID = &l.SessionID
	}
	resp.Metadata = l.Metadata
	return resp
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func (a *API) handleAcquireLock(w http.ResponseWriter, r *request) {
	var body struct {
		TTLSeconds  *wholeNumber `json:"ttl_seconds"`
		SessionID   *string      `json:"session_id"`
		Metadata    *text        `json:"metadata"`
		WaitSeconds *wholeNumber `json:"wait_seconds"`
		Limit       *wholeNumber `json:"limit"`
		Mode        *string      `json:"mode"`
	}
	cmd := state.Acquire{Name: r.name, LeaseID: uuid.New(), HolderID: r.user.ID, MaxLocks: a.limits.MaxLocksPerUser}
	err := firstError(validName(r.name), decodeJSON(r, &body, true))
	if err == nil {
		cmd.TTL, err = lockTTL(body.TTLSeconds)
	}
	if err == nil {
		cmd.SessionID, err = optionalUUID("session_id", body.SessionID)
	}
	if err == nil {
		cmd.Metadata, err = metadata(body.Metadata)
	}
	if err == nil {
		cmd.Wait, err = waitSeconds(body.WaitSeconds)
	}
	if err == nil {
		cmd.Limit, cmd.Mode, err = acquireShape(body.Limit, body.Mode)
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	wa := waitingAcquire{acquire: cmd, propose: func(wait time.Duration) state.Command { c := cmd; c.Wait = wait; return c },
		answer: func(res state.Result, err error) { a.writeLockResult(w, r, res, err, cmd.Mode) }}
	a.acquireOrTry(w, r, cmd.Wait, wa)
}

// writeLockResult answers an acquire or renew made in mode. A refusal goes
// through the error table; a held lock's 409 shows the conflicting lock, a
// limit mismatch's the current limit.
func (a *API) writeLockResult(w http.ResponseWriter, r *request, res state.Result, err error, mode state.Mode) {
	res, err = state.Outcome(res, err)
	switch {
	case err != nil:
		a.writeError(w, r.Request, withLimit(withConflict(err, res), res))
	case res.Status == state.Granted:
		writeJSON(w, http.StatusOK, withShape(newLockResponse("acquired", res.Lock, res.Holder), res, mode))
	default:
		writeJSON(w, http.StatusOK, withShape(newLockResponse("held", res.Lock, res.Holder), res, mode))
	}
}

func (a *API) handleRenewLock(w http.ResponseWriter, r *request) {
	var body struct {
		LeaseID    *string      `json:"lease_id"`
		TTLSeconds *wholeNumber `json:"ttl_seconds"`
	}
	cmd := state.Renew{Name: r.name, HolderID: r.user.ID}
	err := firstError(validName(r.name), decodeJSON(r, &body, true))
	if err == nil {
		cmd.LeaseID, err = leaseID(body.LeaseID)
	}
	if err == nil {
		cmd.TTL, err = lockTTL(body.TTLSeconds)
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	res, err := a.store.Apply(r.Context(), cmd)
	a.writeLockResult(w, r, res, err, state.Exclusive)
}

type releaseResponse struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (a *API) handleReleaseLock(w http.ResponseWriter, r *request) {
	var body struct {
		LeaseID *string `json:"lease_id"`
	}
	cmd := state.Release{Name: r.name, HolderID: r.user.ID}
	err := firstError(validName(r.name), decodeJSON(r, &body, true))
	if err == nil {
		cmd.LeaseID, err = leaseID(body.LeaseID)
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	if _, ok := a.apply(w, r, cmd); ok {
		writeJSON(w, http.StatusOK, releaseResponse{Status: "released", Message: "Lock released"})
	}
}

// lockNotHeld is the seed's LockNotHeld.
type lockNotHeld struct {
	Status  string `json:"status"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (a *API) handleGetLock(w http.ResponseWriter, r *request) {
	var resp lockResponse
	var held bool
	ok := a.blockingRead(w, r, r.name, func(s state.View, now int64) {
		var st state.LockStatus
		if st, held = s.LockStatus(r.name, now); held {
			resp = statusResponse(st, s.Login)
		}
	})
	switch {
	case !ok:
	case held:
		writeJSON(w, http.StatusOK, resp)
	default:
		writeJSON(w, http.StatusOK, lockNotHeld{Status: "available", Name: r.name, Message: "Lock not currently held"})
	}
}

// blockingRead is a status read of r.name, whose events are under key (the
// name itself, or an election's key): with ?wait= it first waits for a
// change after ?index=, re-checks the caller's namespace (which it may
// have lost meanwhile), then runs read on the state (?stale= says
// whether to confirm leadership) and sets X-OctoStore-Index. It answers
// errors itself; ok says whether the caller answers.
func (a *API) blockingRead(w http.ResponseWriter, r *request, key string, read func(s state.View, now int64)) (ok bool) {
	stale, err := staleParam(r.Request)
	wait, index, werr := blockingParams(r.Request)
	if err = firstError(validName(r.name), err, werr); err != nil {
		a.writeError(w, r.Request, err)
		return false
	}
	if wait > 0 && r.adm.park(w, wait) { // else no waiting slot is free: answer now
		a.waitForChange(w, r, key, index, wait)
	}
	var last uint64
	var nerr error
	err = a.store.Read(r.Context(), stale, func(s state.View, now int64) {
		if wait > 0 {
			if _, nerr = a.tenancy.OwnersOf(s, r.user.ID, now).Check(r.name); nerr != nil {
				return
			}
		}
		read(s, now)
		last = s.LastEventSeq()
	})
	if err = firstError(err, nerr); err != nil {
		a.writeError(w, r.Request, err)
		return false
	}
	w.Header().Set("X-OctoStore-Index", strconv.FormatUint(last, 10))
	return true
}

type listedLock struct {
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	HolderID     uuid.UUID `json:"holder_id"`
	Holder       string    `json:"holder"`
	FencingToken uint64    `json:"fencing_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	Metadata     *string   `json:"metadata"`
	// A semaphore's or read/write lock's shape and holders; absent for
	// a mutex. The fields above are its first holder's.
	Limit   *int         `json:"limit,omitempty"`
	Mode    *string      `json:"mode,omitempty"`
	Holders []holderView `json:"holders,omitempty"`
}

type listResponse struct {
	Locks     []listedLock `json:"locks"`
	Total     int          `json:"total"`
	Prefix    *string      `json:"prefix"`
	NextAfter *string      `json:"next_after"`
}

const (
	defaultListLimit = 1000
	maxListLimit     = 10000
)

func (a *API) handleListLocks(w http.ResponseWriter, r *request) {
	q, err := parseListQuery(r)
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	resp := listResponse{Locks: []listedLock{}}
	err = a.store.Read(r.Context(), q.stale, func(s state.View, now int64) {
		locks, more := pageOf(r, q, func(name string) (state.LockStatus, bool) { return s.LockStatus(name, now) },
			func(p, a string, n int) ([]state.LockStatus, bool) { return s.ListLockStatuses(p, a, n, now) })
		for _, st := range locks {
			resp.Locks = append(resp.Locks, listed(s, st))
		}
		if more {
			resp.NextAfter = &locks[len(locks)-1].Name
		}
	})
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	resp.Total = len(resp.Locks)
	if q.hasPrefix {
		resp.Prefix = &q.prefix
	}
	writeJSON(w, http.StatusOK, resp)
}

// listed is a listing's entry for a held name: its first holder; a
// shaped name's entry also has its shape and every holder.
func listed(s state.View, st state.LockStatus) listedLock {
	l := st.Holders[0]
	e := listedLock{Name: l.Name, Status: "held", HolderID: l.HolderID, Holder: s.Login(l.HolderID),
		FencingToken: l.Token, ExpiresAt: unixTime(l.ExpiresAt), Metadata: l.Metadata}
	if shaped(st) {
		e.Limit, e.Mode, e.Holders = shapeFields(st.Limit, st.Mode, st.Holders, s.Login)
	}
	return e
}

// listQuery is a list route's query: ?prefix=, ?after=, ?limit=, ?stale=.
type listQuery struct {
	prefix, after string
	hasPrefix     bool
	limit         int
	stale         bool
}

func parseListQuery(r *request) (listQuery, error) {
	v := r.URL.Query()
	q := listQuery{prefix: v.Get("prefix"), after: v.Get("after"), hasPrefix: v.Has("prefix")}
	var err, serr error
	q.limit, err = listLimit(v.Get("limit"))
	q.stale, serr = staleParam(r.Request)
	return q, firstError(err, serr, maxLen("prefix", q.prefix), maxLen("after", q.after))
}

// pageOf is one page of a list under q: of the caller's spans when the
// caller is confined to them (isolated tenancy), else of q's prefix. get
// reads one name, list a prefix.
func pageOf[T any](r *request, q listQuery, get func(name string) (T, bool),
	list func(prefix, after string, limit int) ([]T, bool)) ([]T, bool) {
	if r.confined {
		return listSpans(r.spans, q.after, q.limit, get,
			func(p, a string, n int) []T { items, _ := list(p, a, n); return items })
	}
	return list(q.prefix, q.after, q.limit)
}

func listLimit(s string) (int, error) {
	if s == "" {
		return defaultListLimit, nil
	}
	n, fractional, err := queryWhole(s)
	switch {
	case fractional:
		return 0, invalid("limit must be a whole number")
	case err != nil:
		return 0, invalid("limit must be an integer between 1 and %d", maxListLimit)
	case n < 1 || n > maxListLimit:
		return 0, invalid("limit must be between 1 and %d", maxListLimit)
	}
	return int(n), nil
}
