package state

// LockStatus is everything about a held name: its shape and every
// current holder.
type LockStatus struct {
	Name    string
	Limit   int    // slots: 1 for a mutex or a read/write lock
	Mode    Mode   // the holders' mode
	Holders []Lock // in token (grant) order; never empty
	Waiting int    // acquires queued for the name
}

// LockStatus returns name's holders at now (those before their FreeAt),
// and false when nobody holds it.
func (s *State) LockStatus(name string, now int64) (LockStatus, bool) {
	sh := s.nameShape(name)
	st := LockStatus{Name: name, Limit: int(sh.limit), Mode: sh.mode, Waiting: s.Waiting(name)}
	s.eachSlot(name, func(l *Lock) bool {
		if now < l.FreeAt {
			st.Holders = append(st.Holders, *l)
		}
		return true
	})
	return st, len(st.Holders) > 0
}

// ListLockStatuses is ListLocks with every holder of each name: up to
// limit held names starting with prefix and sorting after after, in name
// order, and whether more follow.
func (s *State) ListLockStatuses(prefix, after string, limit int, now int64) ([]LockStatus, bool) {
	firsts, more := s.ListLocks(prefix, after, limit, now)
	out := make([]LockStatus, 0, len(firsts))
	for _, l := range firsts {
		st, _ := s.LockStatus(l.Name, now)
		out = append(out, st)
	}
	return out, more
}
