package state

import "github.com/google/uuid"

// Per-user quotas. The limit travels in the command (Acquire.MaxLocks,
// CreateSession.MaxSessions), chosen by the leader that proposed it, so
// every replica decides alike; 0 means no limit, which is also what an
// entry written before quotas existed decodes to. The counts are derived
// indexes kept exact on every store and delete, so a check is O(1).

// MaxQuota bounds a quota carried in a command.
const MaxQuota = 1 << 30

// counts are the derived per-user and total tallies.
type counts struct {
	locksBy    map[uuid.UUID]int // held locks per user, including any past FreeAt not yet removed
	sessionsBy map[uuid.UUID]int // live (not ended) sessions per user
	sessions   int               // live sessions in all
	waiters    int               // queued acquires in all
}

func newCounts() counts {
	return counts{locksBy: map[uuid.UUID]int{}, sessionsBy: map[uuid.UUID]int{}}
}

func (c *counts) addLock(user uuid.UUID, delta int) { bump(c.locksBy, user, delta) }

func (c *counts) addSession(user uuid.UUID, delta int) {
	bump(c.sessionsBy, user, delta)
	c.sessions += delta
}

func bump(m map[uuid.UUID]int, user uuid.UUID, delta int) {
	if n := m[user] + delta; n > 0 {
		m[user] = n
	} else {
		delete(m, user)
	}
}

// overQuota reports whether have has reached a non-zero limit.
func overQuota(have, limit int) bool { return limit > 0 && have >= limit }

// Counts are the state's sizes, for metrics.
type Counts struct {
	Locks, Sessions, Waiters, Users, Webhooks int
	// WebhookLag is how many events the furthest-behind active webhook
	// has not had committed as delivered.
	WebhookLag uint64
	LastEvent  uint64
}

// Counts returns the state's sizes: O(1) but for the webhook lag, which
// looks at each webhook (at most 10 per user).
func (s *State) Counts() Counts {
	last := s.LastEventSeq()
	return Counts{Locks: s.locks.Len(), Sessions: s.counts.sessions, Waiters: s.counts.waiters,
		Users: len(s.users), Webhooks: len(s.webhooks), WebhookLag: last - s.minWebhookCursor(last), LastEvent: last}
}
