package state

import (
	"time"

	"github.com/google/uuid"
)

// The lock commands: each type with its log encoding, its decoding, its
// limits and its apply rule, so a change to one is made in one place.

// Acquire grants Name to (HolderID, SessionID), or extends it when that
// holder already has it.
type Acquire struct {
	Name      string
	LeaseID   uuid.UUID // used only for a new grant
	HolderID  uuid.UUID
	SessionID uuid.UUID // uuid.Nil for none
	TTL       time.Duration
	Metadata  string // replaces the lock's metadata when not empty
	// Wait, when positive, queues the acquire behind another holder for
	// up to this long instead of failing with ErrLockHeld.
	Wait time.Duration
	// MaxLocks, when positive, refuses a new grant or a wait with
	// ErrTooManyLocks while the holder already holds this many locks.
	MaxLocks int
	// Limit, when above 1, makes Name a counting semaphore of Limit
	// slots (at most MaxLimit); 0 and 1 mean one slot. Every holder of a
	// name asks with the same limit, else ErrLimitMismatch.
	Limit int
	// Mode is Exclusive (the zero value, a mutex or semaphore slot) or
	// Shared (a reader of a read/write lock; only with Limit 0 or 1).
	Mode Mode
}

// kind: a plain acquire keeps its original tag and bytes; one with a
// Limit or a Mode is written under kindAcquireShaped, which appends them,
// so the log entries of plain acquires never change.
func (c Acquire) kind() kind {
	if c.Limit != 0 || c.Mode != Exclusive {
		return kindAcquireShaped
	}
	return kindAcquire
}

func (c Acquire) encode(e *encoder) {
	e.str(c.Name)
	e.id(c.LeaseID)
	e.id(c.HolderID)
	e.id(c.SessionID)
	e.dur(c.TTL)
	e.str(c.Metadata)
	e.dur(c.Wait)
	e.uvarint(uint64(c.MaxLocks))
	if c.kind() == kindAcquireShaped {
		e.uvarint(uint64(c.Limit))
		e.u8(byte(c.Mode))
	}
}

func (Acquire) decode(d *decoder) Command {
	c := Acquire{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id(),
		SessionID: d.id(), TTL: d.dur(), Metadata: d.str(MaxMetadataLen)}
	if d.version >= 2 {
		c.Wait = d.dur()
	}
	if d.version >= 3 {
		c.MaxLocks = d.quota()
	}
	return c
}

func (c Acquire) validate() error {
	return firstErr(nameErr(c.Name), lockTTLErr(c.TTL), idErr(c.LeaseID, c.HolderID),
		check(len(c.Metadata) <= MaxMetadataLen, errMetadata), check(c.Wait >= 0 && c.Wait <= MaxWait, errWait),
		quotaErr(c.MaxLocks), shapeErr(c.Limit, c.Mode))
}

func (c Acquire) apply(s *State, now int64, skew time.Duration) Result {
	return s.acquire(now, skew, c)
}

// Renew sets a held lock's expiry to now+TTL.
type Renew struct {
	Name     string
	LeaseID  uuid.UUID
	HolderID uuid.UUID
	TTL      time.Duration
}

func (Renew) kind() kind { return kindRenew }

func (c Renew) encode(e *encoder) {
	e.str(c.Name)
	e.id(c.LeaseID)
	e.id(c.HolderID)
	e.dur(c.TTL)
}

func (Renew) decode(d *decoder) Command {
	return Renew{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id(), TTL: d.dur()}
}

func (c Renew) validate() error {
	return firstErr(nameErr(c.Name), lockTTLErr(c.TTL), idErr(c.LeaseID, c.HolderID))
}

func (c Renew) apply(s *State, now int64, skew time.Duration) Result {
	return s.renew(now, skew, c)
}

// Release frees a held lock.
type Release struct {
	Name     string
	LeaseID  uuid.UUID
	HolderID uuid.UUID
}

func (Release) kind() kind { return kindRelease }

func (c Release) encode(e *encoder) {
	e.str(c.Name)
	e.id(c.LeaseID)
	e.id(c.HolderID)
}

func (Release) decode(d *decoder) Command {
	return Release{Name: d.str(maxKeyLen), LeaseID: d.id(), HolderID: d.id()}
}

// validate accepts an election's key as well as a lock's name: the HTTP
// layer gives back a leadership granted to a campaigner that left, and
// lets one leave the queue (CancelWait), by the election's key.
func (c Release) validate() error {
	return firstErr(keyErr(c.Name), idErr(c.LeaseID, c.HolderID))
}

func (c Release) apply(s *State, now int64, skew time.Duration) Result {
	return s.release(now, c)
}

// CancelWait takes a waiter out of its queue: its request timed out or
// its client went away.
type CancelWait struct {
	Name     string
	LeaseID  uuid.UUID
	HolderID uuid.UUID
}

func (CancelWait) kind() kind { return kindCancelWait }

func (c CancelWait) encode(e *encoder) {
	e.str(c.Name)
	e.id(c.LeaseID)
	e.id(c.HolderID)
}

func (CancelWait) decode(d *decoder) Command {
	return CancelWait{Name: d.str(maxKeyLen), LeaseID: d.id(), HolderID: d.id()}
}

func (c CancelWait) validate() error {
	return firstErr(keyErr(c.Name), idErr(c.LeaseID, c.HolderID))
}

func (c CancelWait) apply(s *State, now int64, skew time.Duration) Result {
	return s.cancelWait(now, c)
}

// CancelAllWaiters empties every queue. A new leader proposes it: waiting
// requests were connections to the old leader, and they are gone.
type CancelAllWaiters struct{}

func (CancelAllWaiters) kind() kind { return kindCancelAllWaiters }

func (c CancelAllWaiters) encode(e *encoder) {
}

func (CancelAllWaiters) decode(d *decoder) Command {
	return CancelAllWaiters{}
}

func (c CancelAllWaiters) validate() error {
	return nil
}

func (c CancelAllWaiters) apply(s *State, now int64, skew time.Duration) Result {
	return s.cancelAllWaiters()
}

// ExpireDue ends up to Limit locks, sessions and tombstones whose deadline
// is at or before the batch's Now. The leader proposes it when
// NextDeadline has passed; the state machine decides what is due, so a
// renew that raced it simply leaves nothing to do.
type ExpireDue struct {
	Limit int
}

func (ExpireDue) kind() kind { return kindExpireDue }

func (c ExpireDue) encode(e *encoder) {
	e.uvarint(uint64(c.Limit))
}

func (ExpireDue) decode(d *decoder) Command {
	return ExpireDue{Limit: int(min(d.uvarint(), maxExpireLimit+1))}
}

func (c ExpireDue) validate() error {
	return check(c.Limit >= 1 && c.Limit <= maxExpireLimit, errLimit)
}

func (c ExpireDue) apply(s *State, now int64, skew time.Duration) Result {
	return Result{Count: s.expireDue(now, c.Limit)}
}
