package client

import "context"

// Semaphore is a counting semaphore: up to Limit holders of the name at
// once, each holding a slot with its own lease and fencing token. It is
// only a name and a limit; Hold does the work.
type Semaphore struct {
	c     *Client
	name  string
	limit int
}

// Semaphore returns the semaphore name of limit slots (2 to 1000). Every
// holder must use the same limit: another is refused with
// ErrLimitMismatch while the name is held.
func (c *Client) Semaphore(name string, limit int) *Semaphore {
	return &Semaphore{c: c, name: name, limit: limit}
}

// Hold acquires a slot (waiting up to o.Wait in FIFO order for one) and
// keeps it renewed, as Client.Hold keeps a lock: the Lease's Context ends
// when the slot can no longer be proven held, and Release frees the slot.
// Every call is a new slot, also from a holder that has one.
func (s *Semaphore) Hold(ctx context.Context, o LeaseOptions) (*Lease, error) {
	o.Limit, o.Mode = s.limit, Exclusive
	return s.c.Hold(ctx, s.name, o)
}

// RWLock is a read/write lock: any number of shared holders (readers)
// together, or one exclusive holder (a writer). Waiting is FIFO across
// modes, so a stream of readers cannot starve a waiting writer. There is
// no upgrade: a holder asking for the other mode of a name it holds is
// refused (ErrLockHeld).
type RWLock struct {
	c    *Client
	name string
}

// RWLock returns the read/write lock name.
func (c *Client) RWLock(name string) *RWLock { return &RWLock{c: c, name: name} }

// HoldShared holds the lock as a reader, kept renewed as Client.Hold
// keeps a lock. A holder (user, or session) that holds it shared already
// gets its lease back.
func (l *RWLock) HoldShared(ctx context.Context, o LeaseOptions) (*Lease, error) {
	o.Limit, o.Mode = 0, Shared
	return l.c.Hold(ctx, l.name, o)
}

// Hold holds the lock as the writer, kept renewed as Client.Hold keeps a
// lock.
func (l *RWLock) Hold(ctx context.Context, o LeaseOptions) (*Lease, error) {
	o.Limit, o.Mode = 0, Exclusive
	return l.c.Hold(ctx, l.name, o)
}
