package state

import (
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
)

func (s *State) createSession(now int64, skew time.Duration, c CreateSession) Result {
	if _, ok := s.users[c.UserID]; !ok {
		return Result{Err: ErrUnknownUser}
	}
	if _, exists := s.sessions.Get(&Session{ID: c.ID}); exists {
		// IDs are random; a collision means a replayed or forged command.
		return Result{Err: ErrInvalidCommand}
	}
	if overQuota(s.counts.sessionsBy[c.UserID], c.MaxSessions) {
		return Result{Err: ErrTooManySessions}
	}
	exp := now + int64(c.TTL)
	sess := &Session{
		ID: c.ID, UserID: c.UserID, TTL: c.TTL,
		CreatedAt: now, ExpiresAt: exp, FreeAt: exp + int64(skew),
	}
	s.putSession(nil, sess)
	return Result{Session: *sess}
}

func (s *State) keepAlive(now int64, skew time.Duration, c KeepAlive) Result {
	cur, err := s.ownedSession(c.ID, c.UserID)
	if err != nil {
		return Result{Err: err}
	}
	if !cur.ActiveAt(now) {
		return Result{Err: ErrSessionExpired, Session: *cur}
	}
	sess := *cur
	sess.ExpiresAt = now + int64(cur.TTL)
	sess.FreeAt = max(cur.FreeAt, sess.ExpiresAt+int64(skew))
	s.putSession(cur, &sess)
	return Result{Session: sess}
}

// deleteSession ends a live session at once. Deleting a tombstone again
// succeeds, so a retried DELETE is harmless.
func (s *State) deleteSession(now int64, c DeleteSession) Result {
	cur, err := s.ownedSession(c.ID, c.UserID)
	if err != nil {
		return Result{Err: err}
	}
	if !cur.Ended() {
		s.endSession(now, cur, false)
	}
	return Result{}
}

func (s *State) ownedSession(id, user uuid.UUID) (*Session, error) {
	sess, ok := s.sessions.Get(&Session{ID: id})
	if !ok || sess.UserID != user {
		return nil, ErrSessionNotFound
	}
	return sess, nil
}

func (s *State) sessionUsable(now int64, id, user uuid.UUID) bool {
	sess, err := s.ownedSession(id, user)
	return err == nil && sess.ActiveAt(now)
}

// endSession turns sess into a tombstone and releases every lock acquired
// with it.
func (s *State) endSession(now int64, cur *Session, expired bool) {
	why := EventReleased
	if expired {
		why = EventExpired
	}
	// Sorted, so the events of its end come in the same order on every
	// replica.
	names := slices.Sorted(maps.Keys(s.sessionLocks[cur.ID]))
	sess := *cur
	sess.EndedAt = now
	sess.Expired = expired
	// Ended before its locks are freed: a waiter of this same session must
	// not be handed one of them.
	s.putSession(cur, &sess)
	for _, name := range names {
		for _, l := range s.slots(name) {
			if l.SessionID == cur.ID {
				s.free(now, l, why)
			}
		}
	}
	s.skipEndedWaiters(now)
}

// putSession stores sess in place of old (nil for a new session) with its
// one deadline: FreeAt while live, the tombstone's end once ended.
func (s *State) putSession(old, sess *Session) {
	if old != nil {
		s.sessionDeadlines.Delete(old)
	}
	if prev, replaced := s.sessions.ReplaceOrInsert(sess); replaced && !prev.Ended() {
		s.counts.addSession(prev.UserID, -1)
	}
	if !sess.Ended() {
		s.counts.addSession(sess.UserID, 1)
	}
	s.sessionDeadlines.ReplaceOrInsert(sess)
}
