package state

import "github.com/google/uuid"

// Refusal answers a command from the state as it is, without applying it,
// when the answer is a refusal that applying it at now would give while
// changing nothing: a try-lock on a lock someone else holds (ErrLockHeld,
// with the lock) or, for a semaphore or read/write lock, that does not fit
// its holders or its queue (ErrLockHeld) or asks with another limit
// (ErrLimitMismatch, with Result.Limit), and a renew or release of a lease
// that is not a current one (ErrLockNotFound). ok is false whenever only applying the
// command can tell, including every case where applying it would change
// the state (a lock past FreeAt, which applying frees first). The caller
// must read at a now no earlier than LastNow.
//
// It is what lets the leader refuse without a log write; the property
// test holds it to exactly the answer of Apply.
func (s *State) Refusal(cmd Command, now int64) (res Result, ok bool) {
	if !Refusable(cmd) {
		return Result{}, false
	}
	switch c := cmd.(type) {
	case Acquire:
		return s.acquireRefusal(now, c)
	case Renew:
		return s.leaseRefusal(now, c.Name, c.LeaseID, c.HolderID)
	case Release:
		return s.leaseRefusal(now, c.Name, c.LeaseID, c.HolderID)
	case Campaign:
		return s.acquireRefusal(now, c.Acquire())
	case Proclaim:
		return s.leaseRefusal(now, ElectionKey(c.Name), c.LeaseID, c.HolderID)
	case Resign:
		return s.leaseRefusal(now, ElectionKey(c.Name), c.LeaseID, c.HolderID)
	}
	return Result{}, false
}

// Refusable reports, without the state, whether Refusal may answer cmd:
// a try-lock (a waiting acquire would queue), a renew or a release, and
// their election counterparts: a campaign that does not wait, a proclaim
// or a resign.
func Refusable(cmd Command) bool {
	switch c := cmd.(type) {
	case Acquire:
		return c.Wait <= 0
	case Campaign:
		return c.Wait <= 0
	case Renew, Release, Proclaim, Resign:
		return true
	}
	return false
}

func (s *State) acquireRefusal(now int64, c Acquire) (Result, bool) {
	if _, ok := s.users[c.HolderID]; !ok {
		return Result{}, false
	}
	if c.shape() != plainShape || s.shaped(c.Name) {
		return s.slotRefusal(now, c)
	}
	cur, ok := s.firstSlot(c.Name)
	if !ok || now >= cur.FreeAt || sameHolder(cur, c.HolderID, c.SessionID) {
		return Result{}, false
	}
	if c.SessionID != uuid.Nil && !s.sessionUsable(now, c.SessionID, c.HolderID) {
		return Result{Err: ErrSessionInvalid}, true
	}
	return Result{Err: ErrLockHeld, Lock: *cur, Holder: s.login(cur.HolderID)}, true
}

// leaseRefusal: the lease is not the live, unexpired lease of holder.
func (s *State) leaseRefusal(now int64, name string, lease, holder uuid.UUID) (Result, bool) {
	var cur *Lock
	held, lapsed := false, false
	s.eachSlot(name, func(l *Lock) bool {
		held = true
		lapsed = lapsed || now >= l.FreeAt
		if l.LeaseID == lease {
			cur = l
		}
		return true
	})
	switch {
	case !held:
		return Result{Err: ErrLockNotFound}, true
	case lapsed:
		return Result{}, false // applying it would free a slot first
	case cur == nil || cur.HolderID != holder || now >= cur.ExpiresAt:
		return Result{Err: ErrLockNotFound}, true
	}
	return Result{}, false
}
