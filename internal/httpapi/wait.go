package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/octostore/octostore/internal/state"
)

// acquireWaiting queues an acquire behind the current holder and answers
// when the lock is handed over (200 acquired), or, after the wait, exactly
// as a try-lock does (409). The request costs no polling and no Raft write
// while it waits: a release or expiry grants it in the same log entry.
func (a *API) acquireWaiting(w http.ResponseWriter, r *request, cmd state.Acquire) {
	granted, forget := a.store.ExpectGrant(cmd.LeaseID)
	defer forget()
	// The server's write timeout is shorter than the longest wait.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(cmd.Wait + 30*time.Second))
	res, err := a.store.Apply(r.Context(), cmd)
	if err != nil || res.Err != nil || res.Status != state.Queued {
		a.writeLockResult(w, r, res, err)
		return
	}
	timer := time.NewTimer(cmd.Wait)
	defer timer.Stop()
	select {
	case l := <-granted:
		writeJSON(w, http.StatusOK, newLockResponse("acquired", l, r.user.Login))
	case <-timer.C:
		a.stopWaiting(w, r, cmd, false)
	case <-r.Context().Done():
		a.stopWaiting(w, r, cmd, true)
	}
}

// stopWaiting takes the waiter out of the queue. If the lock was handed
// over meanwhile, a caller still there gets it; one that left has it
// released at once, so no lock stays held by nobody.
func (a *API) stopWaiting(w http.ResponseWriter, r *request, cmd state.Acquire, gone bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	res, err := a.store.Apply(ctx, state.CancelWait{Name: cmd.Name, LeaseID: cmd.LeaseID, HolderID: cmd.HolderID})
	switch {
	case err == nil && res.Status == state.Granted && gone:
		a.store.Apply(ctx, state.Release{Name: cmd.Name, LeaseID: cmd.LeaseID, HolderID: cmd.HolderID})
	case gone:
	case err == nil && res.Status == state.Granted:
		writeJSON(w, http.StatusOK, newLockResponse("acquired", res.Lock, res.Holder))
	case err == nil && res.Lock.Name != "":
		a.writeLockResult(w, r, state.Result{Err: state.ErrLockHeld, Lock: res.Lock, Holder: res.Holder}, nil)
	default:
		// The lock is free again (its queue emptied as this request timed
		// out): answer as a try-lock made now would.
		cmd.Wait = 0
		res, err = a.store.Apply(ctx, cmd)
		a.writeLockResult(w, r, res, err)
	}
}
