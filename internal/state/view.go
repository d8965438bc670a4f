package state

import "github.com/google/uuid"

// View is the read-only face of a State: what Node.Read hands to its
// callbacks. It has the read methods and nothing else, so a reader, which
// runs under a read lock next to concurrent readers, cannot Apply, take
// the handoffs or the dropped-queue flag (which belong to the FSM), or
// change anything else. Each method is the State method of the same name.
type View struct{ s *State }

// View returns the read-only view of s.
func (s *State) View() View { return View{s} }

// GetLock returns the lock called name if it is held at now.
func (v View) GetLock(name string, now int64) (Lock, bool) { return v.s.GetLock(name, now) }

// ListLocks returns up to limit locks held at now whose names start with
// prefix and sort after after, in name order, and whether more follow.
func (v View) ListLocks(prefix, after string, limit int, now int64) ([]Lock, bool) {
	return v.s.ListLocks(prefix, after, limit, now)
}

// LockCount is the number of stored locks, including any past FreeAt that
// ExpireDue has not removed yet.
func (v View) LockCount() int { return v.s.LockCount() }

// Waiting returns how many acquires wait for name.
func (v View) Waiting(name string) int { return v.s.Waiting(name) }

// GetSession returns the session and how many locks it holds at now.
func (v View) GetSession(id uuid.UUID, now int64) (Session, int, bool) {
	return v.s.GetSession(id, now)
}

// SessionLockNames returns the names of the locks stored under session
// id, in no order.
func (v View) SessionLockNames(id uuid.UUID) []string { return v.s.SessionLockNames(id) }

// UserByToken returns the user owning the token with digest h.
func (v View) UserByToken(h TokenHash) (User, bool) { return v.s.UserByToken(h) }

// TokenFor returns the token with digest h and its user, unless it
// expired at now.
func (v View) TokenFor(h TokenHash, now int64) (Token, User, bool) { return v.s.TokenFor(h, now) }

// Tokens returns user's tokens, oldest first; every token when user is
// uuid.Nil.
func (v View) Tokens(user uuid.UUID) []Token { return v.s.Tokens(user) }

// TokenByID finds a token by its public ID (Token.ID).
func (v View) TokenByID(id string) (Token, bool) { return v.s.TokenByID(id) }

// Login returns the current login of user id, or the ID itself for an
// unknown user.
func (v View) Login(id uuid.UUID) string { return v.s.Login(id) }

// UserCount is the number of users.
func (v View) UserCount() int { return v.s.UserCount() }

// Users returns every user, in no particular order.
func (v View) Users() []User { return v.s.Users() }

// NodeHTTP returns the HTTP address cluster member id advertises.
func (v View) NodeHTTP(id string) (string, bool) { return v.s.NodeHTTP(id) }

// WebhooksOf returns user's webhooks, oldest first; every webhook when
// user is uuid.Nil.
func (v View) WebhooksOf(user uuid.UUID) []Webhook { return v.s.WebhooksOf(user) }

// GetWebhook returns the webhook with id.
func (v View) GetWebhook(id uuid.UUID) (Webhook, bool) { return v.s.GetWebhook(id) }

// LastEventSeq is the seq of the newest event, 0 before the first.
func (v View) LastEventSeq() uint64 { return v.s.LastEventSeq() }

// FirstEventSeq is the seq of the oldest event still kept, or the next
// seq when none is.
func (v View) FirstEventSeq() uint64 { return v.s.FirstEventSeq() }

// EventsAfter returns up to limit events with seq > after, oldest first.
// gap is true when events right after after were compacted away. The
// slice shares the outbox: copy what outlives the read.
func (v View) EventsAfter(after uint64, limit int) ([]Event, bool) {
	return v.s.EventsAfter(after, limit)
}

// Counts returns the state's sizes.
func (v View) Counts() Counts { return v.s.Counts() }

// LastNow is the latest time the state machine has seen (unix nanoseconds).
func (v View) LastNow() int64 { return v.s.LastNow() }

// NextToken is the fencing token the next grant will receive.
func (v View) NextToken() uint64 { return v.s.NextToken() }

// NextDeadline returns the earliest time at which ExpireDue has work, and
// false when nothing is scheduled.
func (v View) NextDeadline() (int64, bool) { return v.s.NextDeadline() }

// HasWaiters reports whether any acquire is queued.
func (v View) HasWaiters() bool { return v.s.HasWaiters() }

// User is State.User.
func (v View) User(id uuid.UUID) (User, bool) { return v.s.User(id) }

// GitHubGrant is State.GitHubGrant.
func (v View) GitHubGrant(id uuid.UUID) string { return v.s.GitHubGrant(id) }

// NamespaceAccount is State.NamespaceAccount.
func (v View) NamespaceAccount(ns string) (string, bool) { return v.s.NamespaceAccount(ns) }

// NamespacesOf is State.NamespacesOf.
func (v View) NamespacesOf(account string) []string { return v.s.NamespacesOf(account) }

// Namespaces is State.Namespaces.
func (v View) Namespaces(after string, limit int) []NamespaceBinding {
	return v.s.Namespaces(after, limit)
}

// Refusal is State.Refusal.
func (v View) Refusal(cmd Command, now int64) (Result, bool) { return v.s.Refusal(cmd, now) }

// LockStatus is State.LockStatus.
func (v View) LockStatus(name string, now int64) (LockStatus, bool) { return v.s.LockStatus(name, now) }

// ListLockStatuses is State.ListLockStatuses.
func (v View) ListLockStatuses(prefix, after string, limit int, now int64) ([]LockStatus, bool) {
	return v.s.ListLockStatuses(prefix, after, limit, now)
}

// GetElection is State.GetElection.
func (v View) GetElection(name string, now int64) (Election, bool) { return v.s.GetElection(name, now) }

// ListElections is State.ListElections.
func (v View) ListElections(prefix, after string, limit int, now int64) ([]Election, bool) {
	return v.s.ListElections(prefix, after, limit, now)
}
