package state

import "time"

// Batch is one Raft log entry: commands stamped together by the leader.
// Now is the leader's wall clock (unix nanoseconds) and Skew the clock-skew
// margin it enforces; the state machine reads neither from anywhere else.
type Batch struct {
	Now      int64
	Skew     time.Duration
	Commands []Command
	// Version is the log format the batch was read in (0: built in
	// memory, the current one). Entries are applied under the rules of
	// the version that wrote them, so replaying an old log after an
	// upgrade gives the events the old code gave: webhook cursors and
	// event IDs recorded then still point at the same events.
	Version uint8
}

// Command is one mutation. The set is closed: only this package defines
// commands. Each command type carries everything about it (its wire tag,
// log encoding, decoding, limits and apply rule) as methods next to its
// declaration, and joins the registry; nothing else lists commands.
type Command interface {
	// kind is the command's wire tag.
	kind() kind
	// encode writes the fields after the tag, in declaration order.
	encode(e *encoder)
	// decode reads the fields after the tag; it is called on the zero
	// value the registry holds, and reads fields by the entry's version.
	decode(d *decoder) Command
	// validate reports the first field outside the domain's limits.
	validate() error
	// apply performs the command on s at the batch's time and skew.
	apply(s *State, now int64, skew time.Duration) Result
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
	kindReissueAdmin
	kindRetireUsers
	kindCreateToken
	kindTouchTokens
	kindRecordGitHubAccount
	kindBindNamespace
	kindReleaseNamespace
	kindAcquireShaped // an Acquire with a Limit or a Mode: see Acquire.kind
	kindCampaign
	kindProclaim
	kindResign
)

// registry maps each wire tag to the command type it decodes to: adding a
// command is its type with its methods, a kind constant, and a line here.
var registry = map[kind]Command{
	kindAcquire:             Acquire{},
	kindRenew:               Renew{},
	kindRelease:             Release{},
	kindCreateSession:       CreateSession{},
	kindKeepAlive:           KeepAlive{},
	kindDeleteSession:       DeleteSession{},
	kindExpireDue:           ExpireDue{},
	kindSyncStaticUsers:     SyncStaticUsers{},
	kindBootstrapAdmin:      BootstrapAdmin{},
	kindIssueToken:          IssueToken{},
	kindRotateToken:         RotateToken{},
	kindRevokeToken:         RevokeToken{},
	kindCreateWebhook:       CreateWebhook{},
	kindDeleteWebhook:       DeleteWebhook{},
	kindAckWebhooks:         AckWebhooks{},
	kindWebhookFailing:      WebhookFailing{},
	kindDeactivateWebhook:   DeactivateWebhook{},
	kindSetNode:             SetNode{},
	kindRemoveNode:          RemoveNode{},
	kindCancelWait:          CancelWait{},
	kindCancelAllWaiters:    CancelAllWaiters{},
	kindReissueAdmin:        ReissueAdmin{},
	kindRetireUsers:         RetireUsers{},
	kindCreateToken:         CreateToken{},
	kindTouchTokens:         TouchTokens{},
	kindRecordGitHubAccount: RecordGitHubAccount{},
	kindBindNamespace:       BindNamespace{},
	kindReleaseNamespace:    ReleaseNamespace{},
	kindAcquireShaped:       shapedAcquire{},
	kindCampaign:            Campaign{},
	kindProclaim:            Proclaim{},
	kindResign:              Resign{},
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
	Token   Token       // CreateToken
	Count   int         // ExpireDue: records ended; BootstrapAdmin: users created; RetireUsers: tokens deleted
	// Limit is set by an Acquire that took the shaped path (it gave a
	// Limit or a Mode, or the name is held as a semaphore or shared): the
	// name's number of slots (1 for a read/write lock), and on
	// ErrLimitMismatch the limit the current holders asked with. It is 0
	// for a plain acquire of a mutex (one slot), whose answers are
	// unchanged.
	Limit int
	// Since is when the leader was elected, for a Campaign that made or
	// kept its caller the leader and for a Proclaim (unix nanoseconds).
	Since int64
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
