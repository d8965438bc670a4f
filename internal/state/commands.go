package state

import (
	"time"

	"github.com/google/uuid"
)

// Batch is one Raft log entry: commands stamped together by the leader.
// Now is the leader's wall clock (unix nanoseconds) and Skew the clock-skew
// margin it enforces; the state machine reads neither from anywhere else.
type Batch struct {
	Now      int64
	Skew     time.Duration
	Commands []Command
}

// Command is one mutation. The set is closed: only this package defines
// commands, because each needs a codec entry and an apply rule.
type Command interface {
	kind() kind
}

type kind uint8

// Command kinds as encoded in the log. Never renumber: old logs and
// snapshots must keep decoding.
const (
	kindAcquire kind = iota + 1
	kindRenew
	kindRelease
	kindCreateSession
	kindKeepAlive
	kindDeleteSession
	kindExpireDue
	kindSyncStaticUsers
	kindBootstrapAdmin
	kindIssueToken
	kindRotateToken
	kindRevokeToken
	kindCreateWebhook
	kindDeleteWebhook
	kindAckWebhooks
	kindWebhookFailing
	kindDeactivateWebhook
	kindSetNode
	kindRemoveNode
	kindCancelWait
	kindCancelAllWaiters
)

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
}

// Renew sets a held lock's expiry to now+TTL.
type Renew struct {
	Name     string
	LeaseID  uuid.UUID
	HolderID uuid.UUID
	TTL      time.Duration
}

// Release frees a held lock.
type Release struct {
	Name     string
	LeaseID  uuid.UUID
	HolderID uuid.UUID
}

// CreateSession starts a session for UserID.
type CreateSession struct {
	ID     uuid.UUID
	UserID uuid.UUID
	TTL    time.Duration
	// MaxSessions, when positive, refuses the session with
	// ErrTooManySessions while the user already has this many live ones.
	MaxSessions int
}

// KeepAlive extends a live session by its TTL.
type KeepAlive struct {
	ID     uuid.UUID
	UserID uuid.UUID
}

// DeleteSession ends a session and releases its locks.
type DeleteSession struct {
	ID     uuid.UUID
	UserID uuid.UUID
}

// ExpireDue ends up to Limit locks, sessions and tombstones whose deadline
// is at or before the batch's Now. The leader proposes it when
// NextDeadline has passed; the state machine decides what is due, so a
// renew that raced it simply leaves nothing to do.
type ExpireDue struct {
	Limit int
}

// StaticUser is a user configured by the operator with fixed tokens.
type StaticUser struct {
	ID     uuid.UUID
	Login  string
	Hashes []TokenHash
}

// SyncStaticUsers makes the operator-configured users and tokens exactly
// Users: it upserts them and drops static tokens that are no longer listed.
// Tokens issued at runtime (bootstrap, sign-in) are untouched.
type SyncStaticUsers struct {
	Users []StaticUser
}

// BootstrapAdmin creates (or reuses) a user and gives it a token, only if no
// token exists at all: on first start, or when the operator removed every
// static token. Replays and races are therefore harmless.
type BootstrapAdmin struct {
	ID    uuid.UUID
	Login string
	Hash  TokenHash
}

// IssueToken records a signed-in user, creating it or updating its login,
// and gives it a new token.
type IssueToken struct {
	UserID uuid.UUID
	Login  string
	Hash   TokenHash
}

// RotateToken replaces the token Old with New, for the same user.
type RotateToken struct {
	Old, New TokenHash
}

// RevokeToken deletes a token. With UserID set it must be that user's.
type RevokeToken struct {
	Hash   TokenHash
	UserID uuid.UUID
}

// SetNode records the HTTP address a cluster member advertises.
type SetNode struct {
	ID       string
	HTTPAddr string
}

// RemoveNode forgets a member that left the cluster.
type RemoveNode struct {
	ID string
}

func (SetNode) kind() kind    { return kindSetNode }
func (RemoveNode) kind() kind { return kindRemoveNode }

func (Acquire) kind() kind         { return kindAcquire }
func (Renew) kind() kind           { return kindRenew }
func (Release) kind() kind         { return kindRelease }
func (CreateSession) kind() kind   { return kindCreateSession }
func (KeepAlive) kind() kind       { return kindKeepAlive }
func (DeleteSession) kind() kind   { return kindDeleteSession }
func (ExpireDue) kind() kind       { return kindExpireDue }
func (SyncStaticUsers) kind() kind { return kindSyncStaticUsers }
func (BootstrapAdmin) kind() kind  { return kindBootstrapAdmin }
func (IssueToken) kind() kind      { return kindIssueToken }
func (RotateToken) kind() kind     { return kindRotateToken }
func (RevokeToken) kind() kind     { return kindRevokeToken }
func (CreateWebhook) kind() kind   { return kindCreateWebhook }
func (DeleteWebhook) kind() kind   { return kindDeleteWebhook }
func (AckWebhooks) kind() kind     { return kindAckWebhooks }
func (WebhookFailing) kind() kind  { return kindWebhookFailing }
func (DeactivateWebhook) kind() kind {
	return kindDeactivateWebhook
}

// GrantStatus says how an Acquire succeeded.
type GrantStatus uint8

// Acquire outcomes.
const (
	Granted  GrantStatus = iota + 1 // a new lease and fencing token
	Extended                        // the caller already held it
	Queued                          // waiting behind the holder (Lock) in its queue
)

// Result is the outcome of one command.
type Result struct {
	Err     error
	Status  GrantStatus // Acquire
	Lock    Lock        // Acquire, Renew; on ErrLockHeld the conflicting lock
	Holder  string      // login of Lock's holder
	Session Session     // CreateSession, KeepAlive
	Webhook Webhook     // CreateWebhook
	Count   int         // ExpireDue: records ended; BootstrapAdmin: users created
}

// Outcome folds the two ways a command fails into one error: err when the
// command never reached the state machine (or its outcome is unknown),
// else the state machine's own Result.Err. res passes through, so a caller
// writes res, err := state.Outcome(store.Apply(ctx, cmd)) and checks one
// error instead of two.
func Outcome(res Result, err error) (Result, error) {
	if err != nil {
		return res, err
	}
	return res, res.Err
}
