package state

import (
	"time"

	"github.com/google/uuid"
)

// acquire implements DESIGN's rules: an expired lock is free; the same
// holder (user and session) extends its lease; anyone else conflicts.
func (s *State) acquire(now int64, skew time.Duration, c Acquire) Result {
	if _, ok := s.users[c.HolderID]; !ok {
		return Result{Err: ErrUnknownUser}
	}
	if c.SessionID != uuid.Nil && !s.sessionUsable(now, c.SessionID, c.HolderID) {
		return Result{Err: ErrSessionInvalid}
	}
	slot := c.shape() != plainShape || s.shaped(c.Name)
	if !slot {
		// A mutex's slot past FreeAt is removed first: acquire treats an
		// expired lock as free without waiting for ExpireDue, and a waiter
		// may have it now, even in another shape (then acquireSlot answers).
		s.dropLapsed(now, c.Name)
		slot = s.shaped(c.Name)
	}
	if slot {
		return s.acquireSlot(now, skew, c)
	}
	cur, held := s.firstSlot(c.Name)
	if held && sameHolder(cur, c.HolderID, c.SessionID) && now < cur.ExpiresAt {
		return s.extend(now, skew, cur, c)
	}
	if held && !sameHolder(cur, c.HolderID, c.SessionID) {
		if c.Wait > 0 && overQuota(s.counts.locksBy[c.HolderID], c.MaxLocks) {
			return Result{Err: ErrTooManyLocks}
		}
		if c.Wait > 0 {
			s.enqueue(now, c)
			return Result{Status: Queued, Lock: *cur, Holder: s.login(cur.HolderID)}
		}
		return Result{Err: ErrLockHeld, Lock: *cur, Holder: s.login(cur.HolderID)}
	}
	have := s.counts.locksBy[c.HolderID]
	if held {
		have-- // the caller's lapsed lease is replaced below, not added to
	}
	if overQuota(have, c.MaxLocks) {
		// Refused before anything changes: a lapsed lease must keep
		// protecting its name until FreeAt.
		return Result{Err: ErrTooManyLocks}
	}
	if held {
		// The caller's own lease lapsed, but nobody else may have the lock
		// before FreeAt, waiters included: the caller gets a fresh grant.
		s.removeLock(now, cur, EventExpired)
	}
	return s.grant(now, skew, c)
}

func metadata(m string) *string {
	if m == "" {
		return nil
	}
	return &m
}

func sameHolder(l *Lock, holder, session uuid.UUID) bool {
	return l.HolderID == holder && l.SessionID == session
}

func (s *State) grant(now int64, skew time.Duration, c Acquire) Result {
	exp := now + int64(c.TTL)
	l := &Lock{
		Name: c.Name, LeaseID: c.LeaseID, HolderID: c.HolderID, SessionID: c.SessionID,
		Token: s.nextToken, ExpiresAt: exp, FreeAt: exp + int64(skew),
		Metadata: metadata(c.Metadata),
	}
	s.nextToken++
	s.noteShape(c.Name, c.shape())
	if isElectionKey(c.Name) {
		s.elected[c.Name] = now
	}
	s.putLock(nil, l)
	s.emit(now, EventAcquired, l)
	return Result{Status: Granted, Lock: *l, Holder: s.login(l.HolderID)}
}

// extend is a re-acquire by the holder: it never shortens the lease. A
// renewed event (and so a webhook call) says the expiry moved, so one is
// emitted only when it did; a re-acquire within the current lease changes
// at most the metadata, which events do not carry.
func (s *State) extend(now int64, skew time.Duration, cur *Lock, c Acquire) Result {
	l := *cur
	l.ExpiresAt = max(cur.ExpiresAt, now+int64(c.TTL))
	l.FreeAt = max(cur.FreeAt, l.ExpiresAt+int64(skew))
	if c.Metadata != "" {
		l.Metadata = metadata(c.Metadata)
	}
	s.putLock(cur, &l)
	if l.ExpiresAt != cur.ExpiresAt || s.version < quietReacquireVersion {
		s.emit(now, EventRenewed, &l)
	}
	return Result{Status: Extended, Lock: l, Holder: s.login(l.HolderID)}
}

func (s *State) renew(now int64, skew time.Duration, c Renew) Result {
	cur, ok := s.ownedLock(now, c.Name, c.LeaseID, c.HolderID)
	if !ok {
		return Result{Err: ErrLockNotFound}
	}
	l := *cur
	l.ExpiresAt = now + int64(c.TTL)
	// FreeAt never moves earlier: a skew margin promised with an earlier,
	// longer lease still protects whoever acted on it.
	l.FreeAt = max(cur.FreeAt, l.ExpiresAt+int64(skew))
	s.putLock(cur, &l)
	s.emit(now, EventRenewed, &l)
	return Result{Status: Extended, Lock: l, Holder: s.login(l.HolderID)}
}

func (s *State) release(now int64, c Release) Result {
	cur, ok := s.ownedLock(now, c.Name, c.LeaseID, c.HolderID)
	if !ok {
		return Result{Err: ErrLockNotFound}
	}
	s.free(now, cur, EventReleased)
	return Result{}
}

// ownedLock returns the slot of name granted with lease if holder matches
// and the lease has not expired. Past ExpiresAt the holder has lost it even
// though nobody else can take it until FreeAt.
func (s *State) ownedLock(now int64, name string, lease, holder uuid.UUID) (*Lock, bool) {
	s.dropLapsed(now, name)
	l, ok := s.slotByLease(name, lease)
	if !ok || l.HolderID != holder || now >= l.ExpiresAt {
		return nil, false
	}
	return l, true
}

// putLock stores l in place of old (nil for a new lock) and keeps the
// derived indexes exact. A replace (extend, renew, proclaim: a copy of
// the slot with new times or metadata) keeps the (Name, Token) key and
// the SessionID, so the session's count of the name stands.
func (s *State) putLock(old, l *Lock) {
	if old != nil {
		s.lockDeadlines.Delete(old)
	}
	prev, replaced := s.locks.ReplaceOrInsert(l)
	if replaced {
		s.counts.addLock(prev.HolderID, -1)
	} else {
		s.addSessionLock(l.SessionID, l.Name, 1)
	}
	s.counts.addLock(l.HolderID, 1)
	s.lockDeadlines.ReplaceOrInsert(l)
}

// addSessionLock counts the slots of name held with session.
func (s *State) addSessionLock(session uuid.UUID, name string, delta int32) {
	if session == uuid.Nil {
		return
	}
	set := s.sessionLocks[session]
	if set == nil {
		set = make(map[string]int32)
		s.sessionLocks[session] = set
	}
	if n := set[name] + delta; n > 0 {
		set[name] = n
	} else {
		delete(set, name)
	}
	if len(set) == 0 {
		delete(s.sessionLocks, session)
	}
}

// free removes l for good: the first waiters that fit, if any, get it now.
func (s *State) free(now int64, l *Lock, why EventKind) {
	s.removeLock(now, l, why)
	s.handoff(now, l.Name)
}

// removeLock deletes l, recording why as an event.
func (s *State) removeLock(now int64, l *Lock, why EventKind) {
	s.emit(now, why, l)
	if _, ok := s.locks.Delete(l); ok {
		s.counts.addLock(l.HolderID, -1)
	}
	s.lockDeadlines.Delete(l)
	s.addSessionLock(l.SessionID, l.Name, -1)
	s.forgetShape(l.Name)
	if isElectionKey(l.Name) {
		delete(s.elected, l.Name)
	}
}

func (s *State) login(id uuid.UUID) string {
	if u, ok := s.users[id]; ok {
		return u.Login
	}
	return id.String()
}
