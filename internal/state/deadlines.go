package state

import "github.com/google/uuid"

type deadlineKind uint8

const (
	deadlineLock      deadlineKind = iota + 1 // a lock becomes free (FreeAt)
	deadlineSession                           // a session's locks are released (FreeAt)
	deadlineTombstone                         // an ended session is forgotten
)

// deadline is one entry of the index that ExpireDue consumes in time order.
// The index is exact: every record with a deadline has exactly one entry,
// removed whenever the record changes.
type deadline struct {
	at   int64
	kind deadlineKind
	key  string // lock name, or the session ID's 16 bytes
}

func deadlineLess(a, b deadline) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.key < b.key
}

func sessionKey(id uuid.UUID) string { return string(id[:]) }

// NextDeadline returns the earliest time at which ExpireDue has work, and
// false when nothing is scheduled.
func (s *State) NextDeadline() (int64, bool) {
	d, ok := s.deadlines.Min()
	return d.at, ok
}

// expireDue ends at most limit records whose deadline is at or before now.
func (s *State) expireDue(now int64, limit int) int {
	n := 0
	for n < limit {
		d, ok := s.deadlines.Min()
		if !ok || d.at > now {
			break
		}
		s.deadlines.Delete(d)
		if s.expireOne(now, d) {
			n++
		}
	}
	return n
}

func (s *State) expireOne(now int64, d deadline) bool {
	switch d.kind {
	case deadlineLock:
		l, ok := s.locks.Get(&Lock{Name: d.key})
		if ok && l.FreeAt == d.at {
			s.removeLock(l)
			return true
		}
	case deadlineSession:
		sess, ok := s.session(d.key)
		if ok && !sess.Ended() && sess.FreeAt == d.at {
			s.endSession(now, sess, true)
			return true
		}
	case deadlineTombstone:
		sess, ok := s.session(d.key)
		if ok && sess.Ended() {
			s.sessions.Delete(sess)
			return true
		}
	}
	return false
}

func (s *State) session(key string) (*Session, bool) {
	var id uuid.UUID
	copy(id[:], key)
	return s.sessions.Get(&Session{ID: id})
}
