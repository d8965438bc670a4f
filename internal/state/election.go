package state

import (
	"strings"
	"time"
)

// An election is a mutex in a namespace of its own: election "x" is the
// lock stored under ElectionKey("x"), which no lock name can spell, so
// that sessions, expiry, queues, quotas and events serve elections
// unchanged. The leader's value is its lock's Metadata; its term is its
// fencing token; State.elected remembers when it was elected.

// electionPrefix starts every election key. '~' is outside the lock-name
// alphabet and sorts after all of it, so elections follow every lock in
// the tree and a lock listing stops before them.
const electionPrefix = "~"

// ElectionKey is the name under which election name's lock, its waiters
// and its events are kept (Event.Lock, SessionLockNames).
func ElectionKey(name string) string { return electionPrefix + name }

// ElectionName returns the election a lock key belongs to, and false for
// the key of an ordinary lock.
func ElectionName(key string) (string, bool) { return strings.CutPrefix(key, electionPrefix) }

func isElectionKey(key string) bool { return strings.HasPrefix(key, electionPrefix) }

// maxKeyLen bounds a key: an election's is its name's bound plus the prefix.
const maxKeyLen = MaxLockNameLen + len(electionPrefix)

func keyErr(key string) error { return check(validKey(key) == nil, errName) }

// validKey reports whether key is a lock name or an election's key.
func validKey(key string) error {
	if name, ok := ElectionName(key); ok {
		return ValidLockName(name)
	}
	return ValidLockName(key)
}

// Election is an election's current leadership.
type Election struct {
	Name   string
	Leader Lock   // the leader's lease: Leader.Name is the election's key
	Value  string // the leader's value
	Term   uint64 // the leader's fencing token: strictly increasing across terms
	Since  int64  // when the leader was elected (unix nanoseconds)
}

// Acquire is the campaign as the acquire of the election's lock: the
// command the state applies, queues and refuses in its place.
func (c Campaign) Acquire() Acquire {
	return Acquire{Name: ElectionKey(c.Name), LeaseID: c.LeaseID, HolderID: c.HolderID,
		SessionID: c.SessionID, TTL: c.TTL, Metadata: c.Value, Wait: c.Wait, MaxLocks: c.MaxLocks}
}

func (s *State) campaign(now int64, skew time.Duration, c Campaign) Result {
	res := s.acquire(now, skew, c.Acquire())
	if res.Err == nil && res.Status != Queued {
		res.Since = s.elected[ElectionKey(c.Name)]
	}
	return res
}

// proclaim replaces the leader's value. It emits a renewed event on the
// election's key: the leadership record changed, and watchers of the
// event stream (a blocking GET) wake up.
func (s *State) proclaim(now int64, c Proclaim) Result {
	cur, ok := s.ownedLock(now, ElectionKey(c.Name), c.LeaseID, c.HolderID)
	if !ok {
		return Result{Err: ErrLockNotFound}
	}
	l := *cur
	l.Metadata = metadata(c.Value)
	s.putLock(cur, &l)
	s.emit(now, EventRenewed, &l)
	return Result{Status: Extended, Lock: l, Holder: s.login(l.HolderID), Since: s.elected[l.Name]}
}

// GetElection returns election name's leadership if it has a leader at
// now.
func (s *State) GetElection(name string, now int64) (Election, bool) {
	key := ElectionKey(name)
	l, ok := s.GetLock(key, now)
	if !ok {
		return Election{}, false
	}
	return s.election(name, l), true
}

// ListElections returns up to limit elections with a leader at now whose
// names start with prefix and sort after after, in name order, and
// whether more follow.
func (s *State) ListElections(prefix, after string, limit int, now int64) ([]Election, bool) {
	if after != "" {
		after = ElectionKey(after)
	}
	locks, more := s.listSlots(ElectionKey(prefix), after, limit, now)
	out := make([]Election, 0, len(locks))
	for _, l := range locks {
		name, _ := ElectionName(l.Name)
		out = append(out, s.election(name, l))
	}
	return out, more
}

// election is election name's leadership, l being its leader's lock.
func (s *State) election(name string, l Lock) Election {
	e := Election{Name: name, Leader: l, Term: l.Token, Since: s.elected[l.Name]}
	if l.Metadata != nil {
		e.Value = *l.Metadata
	}
	return e
}
