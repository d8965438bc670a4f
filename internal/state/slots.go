package state

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// A name's holders are its slots: Lock records keyed by (Name, Token) in
// the one lock tree, each with its own lease and fencing token. A plain
// mutex has one slot and no other record, exactly as before semaphores
// and read/write locks existed; a name held in any other shape also has
// an entry in State.shapes, which only such names pay for.

// shape is the limit and mode a name's holders asked with.
type shape struct {
	limit uint16 // slots: 1 for a mutex or a read/write lock
	mode  Mode
}

// plainShape is a mutex's: one exclusive slot. It is never stored.
var plainShape = shape{limit: 1}

func (c Acquire) shape() shape { return shape{limit: uint16(max(c.Limit, 1)), mode: c.Mode} }

func (w *Waiter) shape() shape { return shape{limit: max(w.Limit, 1), mode: w.Mode} }

// shaped reports whether name is held in a shape other than a mutex's.
func (s *State) shaped(name string) bool {
	_, ok := s.shapes[name]
	return ok
}

// nameShape is the shape of name's current holders (plainShape if none).
func (s *State) nameShape(name string) shape {
	if sh, ok := s.shapes[name]; ok {
		return sh
	}
	return plainShape
}

// eachSlot calls f on name's slots in token order until f returns false.
func (s *State) eachSlot(name string, f func(*Lock) bool) {
	s.locks.AscendGreaterOrEqual(&Lock{Name: name}, func(l *Lock) bool {
		return l.Name == name && f(l)
	})
}

// firstSlot is name's slot with the lowest token: a mutex's only one.
func (s *State) firstSlot(name string) (first *Lock, ok bool) {
	s.eachSlot(name, func(l *Lock) bool { first = l; return false })
	return first, first != nil
}

// slots returns name's slots in token order.
func (s *State) slots(name string) []*Lock {
	var out []*Lock
	s.eachSlot(name, func(l *Lock) bool { out = append(out, l); return true })
	return out
}

func (s *State) slotCount(name string) int {
	n := 0
	s.eachSlot(name, func(*Lock) bool { n++; return true })
	return n
}

// slotByLease finds name's slot granted with lease.
func (s *State) slotByLease(name string, lease uuid.UUID) (found *Lock, ok bool) {
	s.eachSlot(name, func(l *Lock) bool {
		if l.LeaseID == lease {
			found = l
		}
		return found == nil
	})
	return found, found != nil
}

// dropLapsed frees, in token order, each of name's slots past its FreeAt:
// acquire, renew and release treat an expired slot as free without
// waiting for ExpireDue.
func (s *State) dropLapsed(now int64, name string) {
	if !s.shaped(name) {
		// A mutex has one slot at most: one lookup, as before slots.
		if l, ok := s.firstSlot(name); ok && now >= l.FreeAt {
			s.free(now, l, EventExpired)
		}
		return
	}
	for {
		var lapsed *Lock
		s.eachSlot(name, func(l *Lock) bool {
			if now >= l.FreeAt {
				lapsed = l
			}
			return lapsed == nil
		})
		if lapsed == nil {
			return
		}
		s.free(now, lapsed, EventExpired)
	}
}

// fits reports whether a grant in shape sh can join name's holders now:
// anything fits a free name; a shared holder joins shared holders; an
// exclusive one takes a free slot of a semaphore of the same limit.
// Queue order is the caller's concern.
func (s *State) fits(name string, sh shape) bool {
	if _, held := s.firstSlot(name); !held {
		return true
	}
	if s.nameShape(name) != sh {
		return false
	}
	return sh.mode == Shared || s.slotCount(name) < int(sh.limit)
}

// acquireSlot is acquire for a shaped request (a semaphore slot, a shared
// or exclusive hold of a read/write lock) or any request on a name held
// in a shape. FIFO across modes: a request is granted at once only when
// nobody waits for the name and it fits its holders; otherwise it waits
// (or is refused) behind the queue, so a waiting exclusive acquirer is
// never overtaken by later shared ones.
func (s *State) acquireSlot(now int64, skew time.Duration, c Acquire) Result {
	s.dropLapsed(now, c.Name)
	s.handoff(now, c.Name) // waiters past their deadline go; what fits now is granted before c
	want := c.shape()
	first, held := s.firstSlot(c.Name)
	res := Result{Limit: int(want.limit)}
	if held {
		cur := s.nameShape(c.Name)
		res.Lock, res.Holder = *first, s.login(first.HolderID)
		if cur.limit != want.limit {
			res.Err, res.Limit = ErrLimitMismatch, int(cur.limit)
			return res
		}
		if own, ok := s.ownLiveSlot(now, c); ok && want.limit == 1 {
			if cur.mode != want.mode {
				// No upgrade or downgrade: waiting would wait for itself.
				res.Err, res.Lock = ErrLockHeld, *own
				return res
			}
			r := s.extend(now, skew, own, c)
			r.Limit = res.Limit
			return r
		}
	}
	if s.Waiting(c.Name) == 0 && s.fits(c.Name, want) {
		if overQuota(s.counts.locksBy[c.HolderID], c.MaxLocks) {
			return Result{Err: ErrTooManyLocks}
		}
		r := s.grant(now, skew, c)
		r.Limit = res.Limit
		return r
	}
	if c.Wait <= 0 {
		res.Err = ErrLockHeld
		return res
	}
	if overQuota(s.counts.locksBy[c.HolderID], c.MaxLocks) {
		return Result{Err: ErrTooManyLocks}
	}
	s.enqueue(now, c)
	res.Status = Queued
	return res
}

// ownLiveSlot is a slot of name the caller (user and session) holds with
// an unexpired lease.
func (s *State) ownLiveSlot(now int64, c Acquire) (own *Lock, ok bool) {
	s.eachSlot(c.Name, func(l *Lock) bool {
		if sameHolder(l, c.HolderID, c.SessionID) && now < l.ExpiresAt {
			own = l
		}
		return own == nil
	})
	return own, own != nil
}

// noteShape records the shape of a grant on a name that had none.
func (s *State) noteShape(name string, sh shape) {
	if sh != plainShape {
		s.shapes[name] = sh
	}
}

// forgetShape drops name's shape once its last slot is gone.
func (s *State) forgetShape(name string) {
	if s.shaped(name) {
		if _, held := s.firstSlot(name); !held {
			delete(s.shapes, name)
		}
	}
}

// skipEndedWaiters lets every queue of a shaped name move on at once
// when a session ends: a waiter of that session at the head would hold
// back those behind it that fit the holders (shared waiters behind an
// exclusive one). A mutex's holder admits no waiter, so mutex queues are
// left as they are; names go in order, so replicas agree.
func (s *State) skipEndedWaiters(now int64) {
	var names []string
	for name := range s.shapes {
		if _, queued := s.queues[name]; queued {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		s.handoff(now, name)
	}
}
