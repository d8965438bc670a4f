package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/state"
)

// waitingAcquire is an acquire that may wait in the name's queue: a lock's
// (or semaphore slot's) acquire, or an election's campaign.
type waitingAcquire struct {
	// acquire is the acquire as the state queues it: for a campaign, on the
	// election's key. Leaving the queue and giving back a grant use it.
	acquire state.Acquire
	// propose is the command to propose, waiting up to wait.
	propose func(wait time.Duration) state.Command
	// answer writes the outcome.
	answer func(res state.Result, err error)
}

// acquireOrTry ends an acquire or a campaign that may wait up to wait:
// it takes a waiting slot first (before the namespace is bound), binds
// the caller's namespace, then waits in the queue (acquireWaiting), or,
// with no waiting slot free, applies once without waiting, a try-lock.
func (a *API) acquireOrTry(w http.ResponseWriter, r *request, wait time.Duration, wa waitingAcquire) {
	waiting := wait > 0 && r.adm.park(w, wait)
	if !a.bindNamespace(w, r) {
		return
	}
	if waiting {
		a.acquireWaiting(w, r, wa)
		return
	}
	res, err := a.store.Apply(r.Context(), wa.propose(0))
	wa.answer(res, err)
}

// acquireWaiting queues an acquire behind the current holders and answers
// when the name is handed over (200), or, after the wait, exactly as a
// try-lock does (409). The request costs no polling and no Raft write
// while it waits: a release or expiry grants it in the same log entry.
func (a *API) acquireWaiting(w http.ResponseWriter, r *request, wa waitingAcquire) {
	cmd := wa.acquire
	granted, forget := a.store.ExpectGrant(cmd.LeaseID)
	defer forget()
	res, err := state.Outcome(a.store.Apply(r.Context(), wa.propose(cmd.Wait)))
	if err != nil || res.Status != state.Queued {
		wa.answer(res, err)
		return
	}
	timer := time.NewTimer(cmd.Wait)
	defer timer.Stop()
	select {
	case l, ok := <-granted:
		if !ok { // the queue was dropped: answer as a try-lock would now
			a.stopWaiting(w, r, wa, false)
			return
		}
		if r.Context().Err() != nil { // granted as the client left: give it back
			a.stopWaiting(w, r, wa, true)
			return
		}
		wa.answer(state.Result{Status: state.Granted, Lock: l, Holder: r.user.Login, Limit: grantedLimit(cmd)}, nil)
	case <-timer.C:
		a.stopWaiting(w, r, wa, false)
	case <-r.Context().Done():
		a.stopWaiting(w, r, wa, true)
	case <-a.draining:
		a.stopWaiting(w, r, wa, true)
		wa.answer(state.Result{}, cluster.ErrShutdown) // the client is there: it retries elsewhere
	}
}

// grantedLimit is the Result.Limit a shaped acquire's grant carries (the
// state sets it on grants it answers itself, not on handed-over ones).
func grantedLimit(cmd state.Acquire) int {
	if cmd.Limit == 0 && cmd.Mode == state.Shared {
		return 1
	}
	return cmd.Limit
}

// stopWaiting takes the waiter out of the queue. If the name was handed
// over meanwhile, a caller still there gets it; one that left has it
// released at once, so no lock stays held by nobody.
func (a *API) stopWaiting(w http.ResponseWriter, r *request, wa waitingAcquire, gone bool) {
	cmd := wa.acquire
	requestID := w.Header().Get("X-Request-Id")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	res, err := a.store.Apply(ctx, state.CancelWait{Name: cmd.Name, LeaseID: cmd.LeaseID, HolderID: cmd.HolderID})
	switch {
	case err == nil && res.Status == state.Granted && gone:
		a.releaseOrphan(ctx, requestID, cmd)
	case gone && err != nil:
		// Still queued: a grant would go to nobody and be held for its TTL.
		a.log.Warn("leaving the queue for a client that left", "lock", cmd.Name, "err", err, "request_id", requestID)
	case gone:
	case err == nil && res.Status == state.Granted:
		res.Limit = max(res.Limit, grantedLimit(cmd))
		wa.answer(res, nil)
	case err == nil && res.Lock.Name != "": // someone else holds it
		wa.answer(res, state.ErrLockHeld)
	default:
		// The name is free again (its queue emptied as this request timed
		// out): answer as a try-lock made now would.
		wa.answer(a.store.Apply(ctx, wa.propose(0)))
	}
}

// releaseOrphan releases a lock granted to a client that has left. If
// that fails, nobody holds the lock until its TTL runs out: worth a line
// in the log.
func (a *API) releaseOrphan(ctx context.Context, requestID string, cmd state.Acquire) {
	_, err := state.Outcome(a.store.Apply(ctx, state.Release{Name: cmd.Name, LeaseID: cmd.LeaseID, HolderID: cmd.HolderID}))
	if err != nil {
		a.log.Warn("releasing a lock granted to a client that left; it is held until its TTL ends",
			"lock", cmd.Name, "err", err, "request_id", requestID)
	}
}

// maxBlockingWait bounds a blocking status read: as long as an acquire
// may wait.
const maxBlockingWait = state.MaxWait

// blockingParams reads ?wait= (seconds, or a duration like 30s) and
// ?index= (the X-OctoStore-Index of an earlier answer).
func blockingParams(r *http.Request) (time.Duration, uint64, error) {
	q := r.URL.Query()
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		secs, _, err := queryWhole(v)
		wait = time.Duration(min(max(secs, -1), 1<<32)) * time.Second // clamped: no overflow into range
		if err != nil {
			wait, err = time.ParseDuration(v)
		}
		if err != nil || wait < 0 || wait > maxBlockingWait {
			return 0, 0, invalid("wait must be a duration up to 5m (e.g. 30s) or seconds")
		}
	}
	var index uint64
	if v := q.Get("index"); v != "" {
		var err error
		if index, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, invalid("index must be a non-negative integer (an X-OctoStore-Index)")
		}
	}
	return wait, index, nil
}

// waitForChange blocks until an event for r's lock comes after index (or
// events after index were compacted away, or wait passes): a blocking
// query, as Consul's. It wakes only on changes of state, never polls.
func (a *API) waitForChange(w http.ResponseWriter, r *request, key string, index uint64, wait time.Duration) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for cursor := index; ; {
		changed := a.store.Changed()
		var found bool
		err := a.store.Read(r.Context(), true, func(s state.View, _ int64) { cursor, found = scanFor(s, key, cursor) })
		if err != nil || found { // an error: the client left; the caller answers it
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-r.Context().Done():
			return
		case <-a.draining:
			return
		}
	}
}

// scanFor looks through the events after cursor for one on name; a gap
// counts as found (the caller must re-read). It returns the new cursor.
func scanFor(s state.View, name string, cursor uint64) (uint64, bool) {
	for {
		events, gap := s.EventsAfter(cursor, 1024)
		if gap {
			return cursor, true
		}
		if len(events) == 0 {
			return cursor, false
		}
		for _, e := range events {
			if e.Lock == name {
				return e.Seq, true
			}
			cursor = e.Seq
		}
	}
}
