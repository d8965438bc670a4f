package state

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// The commands of the primitives built on locks: the shaped acquire
// (semaphores, read/write locks) and elections. See doc.go for their
// semantics.

// Mode is how a holder holds a name.
type Mode uint8

// Modes.
const (
	Exclusive Mode = iota // alone (a mutex), or in one slot of a semaphore
	Shared                // together with other Shared holders, never with an Exclusive one
)

// String is the mode's API name.
func (m Mode) String() string {
	if m == Shared {
		return "shared"
	}
	return "exclusive"
}

var errShape = errors.New("limit or mode out of range (shared needs limit 0 or 1)")

func shapeErr(limit int, mode Mode) error {
	return check(limit >= 0 && limit <= MaxLimit && mode <= Shared && (mode == Exclusive || limit <= 1), errShape)
}

// shapedAcquire is the registry's entry for kindAcquireShaped: it decodes
// to an Acquire with its Limit and Mode. It is never applied itself.
type shapedAcquire struct{}

func (shapedAcquire) kind() kind { return kindAcquireShaped }

func (shapedAcquire) encode(e *encoder) {}

func (shapedAcquire) decode(d *decoder) Command {
	c := Acquire{}.decode(d).(Acquire)
	c.Limit = int(min(d.uvarint(), MaxLimit+1))
	c.Mode = Mode(d.u8())
	return c
}

func (shapedAcquire) validate() error { return errShape }

func (shapedAcquire) apply(s *State, now int64, skew time.Duration) Result {
	return Result{Err: ErrInvalidCommand}
}

// Campaign asks for the leadership of election Name, with the leader's
// Value (at most MaxElectionValue bytes): a waiting acquire of the
// election's lock. The leader campaigning again extends its lease (never
// shortening it) and replaces its value when Value is not empty.
type Campaign struct {
	Name      string
	LeaseID   uuid.UUID
	HolderID  uuid.UUID
	SessionID uuid.UUID // uuid.Nil for none: leadership then ends with the lease only
	TTL       time.Duration
	Value     string
	Wait      time.Duration // 0: fail with ErrLockHeld when there is a leader
	MaxLocks  int           // as Acquire.MaxLocks: the leadership counts as a held lock
}

func (Campaign) kind() kind { return kindCampaign }

func (c Campaign) encode(e *encoder) {
	e.str(c.Name)
	e.id(c.LeaseID)
	e.id(c.HolderID)
	e.id(c.SessionID)
	e.dur(c.TTL)
	e.str(c.Value)
	e.dur(c.Wait)
	e.uvarint(uint64(c.MaxLocks))
}

func (Campaign) decode(d *decoder) Command {
	return Campaign{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id(), SessionID: d.id(),
		TTL: d.dur(), Value: d.str(MaxElectionValue), Wait: d.dur(), MaxLocks: d.quota()}
}

func (c Campaign) validate() error {
	return Acquire{Name: c.Name, LeaseID: c.LeaseID, HolderID: c.HolderID, TTL: c.TTL, Metadata: c.Value,
		Wait: c.Wait, MaxLocks: c.MaxLocks}.validate()
}

func (c Campaign) apply(s *State, now int64, skew time.Duration) Result {
	return s.campaign(now, skew, c)
}

// Proclaim replaces the value of the leader holding LeaseID, without
// touching its lease or term.
type Proclaim struct {
	Name     string
	LeaseID  uuid.UUID
	HolderID uuid.UUID
	Value    string
}

func (Proclaim) kind() kind { return kindProclaim }

func (c Proclaim) encode(e *encoder) {
	e.str(c.Name)
	e.id(c.LeaseID)
	e.id(c.HolderID)
	e.str(c.Value)
}

func (Proclaim) decode(d *decoder) Command {
	return Proclaim{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id(), Value: d.str(MaxElectionValue)}
}

func (c Proclaim) validate() error {
	return firstErr(nameErr(c.Name), idErr(c.LeaseID, c.HolderID), check(len(c.Value) <= MaxElectionValue, errMetadata))
}

func (c Proclaim) apply(s *State, now int64, skew time.Duration) Result {
	return s.proclaim(now, c)
}

// Resign gives up the leadership held with LeaseID: the release of the
// election's lock, which hands it to the first campaigner waiting.
type Resign struct {
	Name     string
	LeaseID  uuid.UUID
	HolderID uuid.UUID
}

func (Resign) kind() kind { return kindResign }

func (c Resign) encode(e *encoder) {
	e.str(c.Name)
	e.id(c.LeaseID)
	e.id(c.HolderID)
}

func (Resign) decode(d *decoder) Command {
	return Resign{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id()}
}

func (c Resign) validate() error {
	return firstErr(nameErr(c.Name), idErr(c.LeaseID, c.HolderID))
}

func (c Resign) apply(s *State, now int64, skew time.Duration) Result {
	return s.release(now, Release{Name: ElectionKey(c.Name), LeaseID: c.LeaseID, HolderID: c.HolderID})
}
