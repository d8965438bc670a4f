package state

import (
	"time"

	"github.com/google/uuid"
)

// The session commands, each with its codec, limits and apply rule.

// CreateSession starts a session for UserID.
type CreateSession struct {
	ID     uuid.UUID
	UserID uuid.UUID
	TTL    time.Duration
	// MaxSessions, when positive, refuses the session with
	// ErrTooManySessions while the user already has this many live ones.
	MaxSessions int
}

func (CreateSession) kind() kind { return kindCreateSession }

func (c CreateSession) encode(e *encoder) {
	e.id(c.ID)
	e.id(c.UserID)
	e.dur(c.TTL)
	e.uvarint(uint64(c.MaxSessions))
}

func (CreateSession) decode(d *decoder) Command {
	c := CreateSession{ID: d.id(), UserID: d.id(), TTL: d.dur()}
	if d.version >= 3 {
		c.MaxSessions = d.quota()
	}
	return c
}

func (c CreateSession) validate() error {
	return firstErr(idErr(c.ID, c.UserID),
		check(c.TTL >= MinSessionTTL && c.TTL <= MaxSessionTTL, errTTL), quotaErr(c.MaxSessions))
}

func (c CreateSession) apply(s *State, now int64, skew time.Duration) Result {
	return s.createSession(now, skew, c)
}

// KeepAlive extends a live session by its TTL.
type KeepAlive struct {
	ID     uuid.UUID
	UserID uuid.UUID
}

func (KeepAlive) kind() kind { return kindKeepAlive }

func (c KeepAlive) encode(e *encoder) {
	e.id(c.ID)
	e.id(c.UserID)
}

func (KeepAlive) decode(d *decoder) Command {
	return KeepAlive{ID: d.id(), UserID: d.id()}
}

func (c KeepAlive) validate() error {
	return idErr(c.ID, c.UserID)
}

func (c KeepAlive) apply(s *State, now int64, skew time.Duration) Result {
	return s.keepAlive(now, skew, c)
}

// DeleteSession ends a session and releases its locks.
type DeleteSession struct {
	ID     uuid.UUID
	UserID uuid.UUID
}

func (DeleteSession) kind() kind { return kindDeleteSession }

func (c DeleteSession) encode(e *encoder) {
	e.id(c.ID)
	e.id(c.UserID)
}

func (DeleteSession) decode(d *decoder) Command {
	return DeleteSession{ID: d.id(), UserID: d.id()}
}

func (c DeleteSession) validate() error {
	return idErr(c.ID, c.UserID)
}

func (c DeleteSession) apply(s *State, now int64, skew time.Duration) Result {
	return s.deleteSession(now, c)
}
