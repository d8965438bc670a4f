package state

import "github.com/google/uuid"

// slotRefusal is Refusal for acquireSlot's try-locks. It follows
// acquireSlot step by step and gives up (ok false) wherever applying
// would change the state: a slot past FreeAt to drop, a waiter at the
// head of the queue to skip or grant, an extension or a grant. Its
// caller, acquireRefusal, has checked that the holder is a user.
func (s *State) slotRefusal(now int64, c Acquire) (Result, bool) {
	if c.SessionID != uuid.Nil && !s.sessionUsable(now, c.SessionID, c.HolderID) {
		return Result{Err: ErrSessionInvalid}, true
	}
	if s.anyLapsed(now, c.Name) || s.headMoves(now, c.Name) {
		return Result{}, false
	}
	want := c.shape()
	res := Result{Err: ErrLockHeld, Limit: int(want.limit)}
	if first, held := s.firstSlot(c.Name); held {
		cur := s.nameShape(c.Name)
		res.Lock, res.Holder = *first, s.login(first.HolderID)
		if cur.limit != want.limit {
			res.Err, res.Limit = ErrLimitMismatch, int(cur.limit)
			return res, true
		}
		if own, ok := s.ownLiveSlot(now, c); ok && want.limit == 1 {
			if cur.mode == want.mode {
				return Result{}, false // an extension
			}
			res.Lock = *own
			return res, true
		}
	}
	if s.Waiting(c.Name) == 0 && s.fits(c.Name, want) {
		return Result{}, false // a grant
	}
	return res, true
}

func (s *State) anyLapsed(now int64, name string) (lapsed bool) {
	s.eachSlot(name, func(l *Lock) bool {
		lapsed = now >= l.FreeAt
		return !lapsed
	})
	return lapsed
}

// headMoves reports whether handoff would skip or grant the head of
// name's queue at now.
func (s *State) headMoves(now int64, name string) bool {
	q := s.queues[name]
	if q == nil {
		return false
	}
	w := q.front()
	return s.staleWaiter(now, w) || s.fits(name, w.shape())
}
