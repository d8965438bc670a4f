package state

import (
	"container/list"
	"time"

	"github.com/google/uuid"
)

// MaxWait bounds how long an acquire may wait in a lock's queue.
const MaxWait = 300 * time.Second

// Waiter is an acquire queued behind a lock's holder. Waiters are granted
// in arrival (log) order, in the same Apply that frees the lock, so a free
// moment is never visible to anyone else while the queue is not empty.
type Waiter struct {
	LeaseID, HolderID, SessionID uuid.UUID
	TTL                          time.Duration
	Metadata                     string
	Deadline                     int64 // unix nanoseconds; a waiter past it is skipped
	// Limit and Mode are the acquire's (Acquire.Limit, Acquire.Mode).
	Limit uint16
	Mode  Mode
}

// waitQueue is one lock's FIFO of waiters, indexed by lease for O(1)
// cancellation.
type waitQueue struct {
	order   *list.List // of *Waiter
	byLease map[uuid.UUID]*list.Element
}

func newWaitQueue() *waitQueue {
	return &waitQueue{order: list.New(), byLease: map[uuid.UUID]*list.Element{}}
}

func (q *waitQueue) push(w *Waiter) { q.byLease[w.LeaseID] = q.order.PushBack(w) }

func (q *waitQueue) front() *Waiter {
	if e := q.order.Front(); e != nil {
		return e.Value.(*Waiter)
	}
	return nil
}

func (q *waitQueue) pop() *Waiter {
	e := q.order.Front()
	if e == nil {
		return nil
	}
	w := q.order.Remove(e).(*Waiter)
	delete(q.byLease, w.LeaseID)
	return w
}

func (q *waitQueue) remove(lease uuid.UUID) bool {
	e, ok := q.byLease[lease]
	if ok {
		q.order.Remove(e)
		delete(q.byLease, lease)
	}
	return ok
}

func (s *State) enqueue(now int64, c Acquire) {
	q := s.queues[c.Name]
	if q == nil {
		q = newWaitQueue()
		s.queues[c.Name] = q
	}
	q.push(&Waiter{LeaseID: c.LeaseID, HolderID: c.HolderID, SessionID: c.SessionID, TTL: c.TTL,
		Metadata: c.Metadata, Deadline: now + int64(c.Wait), Limit: uint16(c.Limit), Mode: c.Mode})
	s.counts.waiters++
}

// handoff grants name to the waiters at the head of its queue while the
// head fits the holders (FIFO across modes: several shared waiters at the
// head together, as many semaphore waiters as there are free slots); a
// waiter past its deadline, or with a session that ended, is skipped. A
// mutex grant ends it, as it always did: nothing fits behind it.
func (s *State) handoff(now int64, name string) {
	q := s.queues[name]
	if q == nil {
		return
	}
	defer s.dropIfEmpty(name, q)
	for w := q.front(); w != nil; w = q.front() {
		stale := s.staleWaiter(now, w)
		if !stale && !s.fits(name, w.shape()) {
			return
		}
		q.pop()
		s.counts.waiters--
		if stale {
			continue
		}
		r := s.grant(now, s.skew, Acquire{Name: name, LeaseID: w.LeaseID, HolderID: w.HolderID,
			SessionID: w.SessionID, TTL: w.TTL, Metadata: w.Metadata, Limit: int(w.Limit), Mode: w.Mode})
		s.handoffs = append(s.handoffs, r.Lock)
		if w.shape() == plainShape {
			return
		}
	}
}

// staleWaiter reports whether handoff skips w at now: it is past its
// deadline, or its session can no longer hold a lock.
func (s *State) staleWaiter(now int64, w *Waiter) bool {
	return now >= w.Deadline || (w.SessionID != uuid.Nil && !s.sessionUsable(now, w.SessionID, w.HolderID))
}

// dropIfEmpty forgets name's queue once nobody waits in it.
func (s *State) dropIfEmpty(name string, q *waitQueue) {
	if q.order.Len() == 0 {
		delete(s.queues, name)
	}
}

// cancelWait removes the waiter; if it was already granted, the result
// says so (Status Granted) and the caller owns the lock after all.
func (s *State) cancelWait(now int64, c CancelWait) Result {
	if q := s.queues[c.Name]; q != nil && q.remove(c.LeaseID) {
		s.counts.waiters--
		s.dropIfEmpty(c.Name, q)
		if s.shaped(c.Name) {
			// The waiter may have been the head blocking others that fit
			// the holders (shared ones behind an exclusive one, say). A
			// mutex's holder admits no waiter, so its queue stays as it is.
			s.handoff(now, c.Name)
		}
		if l, held := s.GetLock(c.Name, now); held {
			return Result{Lock: l, Holder: s.login(l.HolderID)}
		}
		return Result{}
	}
	if l, held := s.slotByLease(c.Name, c.LeaseID); held && now < l.FreeAt && l.HolderID == c.HolderID {
		return Result{Status: Granted, Lock: *l, Holder: s.login(l.HolderID)}
	}
	return Result{Err: ErrWaiterNotFound}
}

// cancelAllWaiters empties every queue and notes it for TakeQueuesDropped.
func (s *State) cancelAllWaiters() Result {
	clear(s.queues)
	s.counts.waiters = 0
	s.dropped = true
	return Result{}
}

// TakeQueuesDropped reports whether CancelAllWaiters emptied the queues
// since the last call: the requests waiting in them will get no grant.
func (s *State) TakeQueuesDropped() bool {
	d := s.dropped
	s.dropped = false
	return d
}

// TakeHandoffs returns the locks granted to waiters since the last call,
// so the node can answer the requests that were waiting for them.
func (s *State) TakeHandoffs() []Lock {
	h := s.handoffs
	s.handoffs = nil
	return h
}

// Waiting returns how many acquires wait for name.
func (s *State) Waiting(name string) int {
	if q := s.queues[name]; q != nil {
		return q.order.Len()
	}
	return 0
}

// HasWaiters reports whether any acquire is queued.
func (s *State) HasWaiters() bool { return len(s.queues) > 0 }
