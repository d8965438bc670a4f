package state

import "bytes"

// The deadline indexes hold the same immutable records as the primary
// trees, ordered by when ExpireDue has work for them. They are exact: a
// record is removed from its index before it is replaced, so every record
// has exactly one entry. Items are pointers (8 bytes), not copies of keys.

func lockDeadlineLess(a, b *Lock) bool {
	if a.FreeAt != b.FreeAt {
		return a.FreeAt < b.FreeAt
	}
	return lockLess(a, b)
}

// deadline is when ExpireDue next acts on a session: at FreeAt it expires
// a live one, an hour after its end it forgets a tombstone.
func (s *Session) deadline() int64 {
	if s.Ended() {
		return s.EndedAt + int64(TombstoneTTL)
	}
	return s.FreeAt
}

func sessionDeadlineLess(a, b *Session) bool {
	if da, db := a.deadline(), b.deadline(); da != db {
		return da < db
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

// NextDeadline returns the earliest time at which ExpireDue has work, and
// false when nothing is scheduled.
func (s *State) NextDeadline() (int64, bool) {
	l, lok := s.lockDeadlines.Min()
	sess, sok := s.sessionDeadlines.Min()
	switch {
	case lok && sok:
		return min(l.FreeAt, sess.deadline()), true
	case lok:
		return l.FreeAt, true
	case sok:
		return sess.deadline(), true
	}
	return 0, false
}

// expireDue ends at most limit records whose deadline is at or before now.
// On a tie a session goes first; any fixed rule keeps replicas identical.
func (s *State) expireDue(now int64, limit int) int {
	n := 0
	for ; n < limit; n++ {
		l, lok := s.lockDeadlines.Min()
		sess, sok := s.sessionDeadlines.Min()
		lok = lok && l.FreeAt <= now
		sok = sok && sess.deadline() <= now
		switch {
		case sok && (!lok || sess.deadline() <= l.FreeAt):
			s.expireSession(now, sess)
		case lok:
			s.free(now, l, EventExpired)
		default:
			return n
		}
	}
	return n
}

// expireSession ends a live session (releasing its locks) or forgets a
// tombstone.
func (s *State) expireSession(now int64, sess *Session) {
	if sess.Ended() {
		s.sessions.Delete(sess) // a tombstone: not counted as live
		s.sessionDeadlines.Delete(sess)
		return
	}
	s.endSession(now, sess, true)
}
