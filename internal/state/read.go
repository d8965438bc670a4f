package state

import (
	"crypto/subtle"
	"strings"

	"github.com/google/uuid"
)

// Read methods. They take the reader's clock (clamped by the caller to
// LastNow) so that a lock past its FreeAt reads as free even before the
// leader's ExpireDue has removed it.

// GetLock returns the lock called name if it is held at now: a mutex's
// holder, or the first (lowest token) holder of a name held in another
// shape (LockStatus has them all).
func (s *State) GetLock(name string, now int64) (lock Lock, held bool) {
	s.eachSlot(name, func(l *Lock) bool {
		if now < l.FreeAt {
			lock, held = *l, true
		}
		return !held
	})
	return lock, held
}

// ListLocks returns up to limit locks held at now whose names start with
// prefix and sort after after, in name order, and whether more follow.
func (s *State) ListLocks(prefix, after string, limit int, now int64) ([]Lock, bool) {
	if isElectionKey(prefix) {
		return nil, false // elections are listed by ListElections only
	}
	return s.listSlots(prefix, after, limit, now)
}

// listSlots lists the first live slot of each name in the key range:
// lock names, or election keys when prefix is one.
func (s *State) listSlots(prefix, after string, limit int, now int64) ([]Lock, bool) {
	elections := isElectionKey(prefix)
	start := prefix
	if after >= start {
		start = after + "\x00"
	}
	var out []Lock
	more := false
	s.locks.AscendGreaterOrEqual(&Lock{Name: start}, func(l *Lock) bool {
		if !strings.HasPrefix(l.Name, prefix) || isElectionKey(l.Name) != elections {
			return false // elections sort after every lock name
		}
		if now >= l.FreeAt || len(out) > 0 && out[len(out)-1].Name == l.Name {
			return true // one entry per name: its first live slot
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, *l)
		return true
	})
	return out, more
}

// LockCount is the number of stored locks, including any past FreeAt that
// ExpireDue has not removed yet.
func (s *State) LockCount() int { return s.locks.Len() }

// SessionLockNames returns the names of the locks stored under session
// id, in no order: each name once however many slots the session holds;
// an election appears under its key (ElectionKey).
func (s *State) SessionLockNames(id uuid.UUID) []string {
	names := make([]string, 0, len(s.sessionLocks[id]))
	for name := range s.sessionLocks[id] {
		names = append(names, name)
	}
	return names
}

// GetSession returns the session and how many locks it holds at now.
func (s *State) GetSession(id uuid.UUID, now int64) (Session, int, bool) {
	sess, ok := s.sessions.Get(&Session{ID: id})
	if !ok {
		return Session{}, 0, false
	}
	n := 0
	for name := range s.sessionLocks[id] {
		s.eachSlot(name, func(l *Lock) bool {
			if l.SessionID == id && now < l.FreeAt {
				n++
			}
			return true
		})
	}
	return *sess, n, true
}

// UserByToken returns the user owning the token with digest h.
func (s *State) UserByToken(h TokenHash) (User, bool) {
	_, u, ok := s.tokenAndUser(h)
	return u, ok
}

// tokenAndUser finds the token with digest h and its user, in one lookup.
func (s *State) tokenAndUser(h TokenHash) (Token, User, bool) {
	e, ok := s.tokens[h]
	if !ok {
		return Token{}, User{}, false
	}
	// The map lookup is keyed by the digest, so its timing reveals nothing
	// usable about the token; compare the full digest in constant time anyway.
	if subtle.ConstantTimeCompare(h[:], e.Hash[:]) != 1 {
		return Token{}, User{}, false
	}
	u, ok := s.users[e.UserID]
	if !ok {
		return Token{}, User{}, false
	}
	return e, *u, true
}

// TokenFor returns the token with digest h and its user, unless it
// expired at now: what a request authenticates with.
func (s *State) TokenFor(h TokenHash, now int64) (Token, User, bool) {
	t, u, ok := s.tokenAndUser(h)
	if !ok || t.ExpiredAt(now) {
		return Token{}, User{}, false
	}
	return t, u, true
}

// Tokens returns user's tokens, oldest first; every token when user is
// uuid.Nil.
func (s *State) Tokens(user uuid.UUID) []Token {
	if user != uuid.Nil {
		return s.tokensOf(user)
	}
	out := make([]Token, 0, len(s.tokens))
	for _, t := range s.tokens {
		out = append(out, t)
	}
	sortTokens(out)
	return out
}

// TokenByID finds a token by its public ID (Token.ID).
func (s *State) TokenByID(id string) (Token, bool) {
	for _, t := range s.tokens {
		if t.ID() == id {
			return t, true
		}
	}
	return Token{}, false
}

// NodeHTTP returns the HTTP address cluster member id advertises.
func (s *State) NodeHTTP(id string) (string, bool) {
	addr, ok := s.nodes[id]
	return addr, ok
}

// Login returns the current login of user id, or the ID itself for an
// unknown user.
func (s *State) Login(id uuid.UUID) string { return s.login(id) }

// UserCount is the number of users.
func (s *State) UserCount() int { return len(s.users) }

// Users returns every user, in no particular order.
func (s *State) Users() []User {
	out := make([]User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, *u)
	}
	return out
}
