package state

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Log entry format (version 3; see batchVersion for what each added):
//
//	magic 0xB7 | version | now varint | skew varint | count uvarint | commands
//
// each command being its kind byte followed by its fields in declaration
// order. Decoding validates every field, so a corrupt or forged entry is
// refused instead of being applied.
const (
	batchMagic = 0xB7
	// 2 added Acquire.Wait, 3 Acquire.MaxLocks and CreateSession.MaxSessions;
	// older entries still decode, with zero (no wait, no limit) for them.
	batchVersion = 3
	// MaxBatchCommands bounds one log entry.
	MaxBatchCommands = 1 << 16
	maxStaticUsers   = 1 << 16
	maxExpireLimit   = 1 << 16
	maxReasonLen     = 256
)

// EncodeBatch returns the log entry for b.
func EncodeBatch(b Batch) []byte {
	e := encoder{buf: make([]byte, 0, 16+64*len(b.Commands))}
	e.u8(batchMagic)
	e.u8(batchVersion)
	e.varint(b.Now)
	e.dur(b.Skew)
	e.uvarint(uint64(len(b.Commands)))
	for _, c := range b.Commands {
		encodeCommand(&e, c)
	}
	return e.buf
}

// DecodeBatch parses and validates a log entry.
func DecodeBatch(data []byte) (Batch, error) {
	d := decoder{b: data}
	magic, version := d.u8(), d.u8()
	if magic != batchMagic || version < 1 || version > batchVersion {
		return Batch{}, fmt.Errorf("%w: not a command batch of version 1 to %d", ErrCorrupt, batchVersion)
	}
	d.version = version
	b := Batch{Now: d.varint(), Skew: d.dur()}
	n := d.count(1)
	if n > MaxBatchCommands {
		d.fail("too many commands")
	}
	b.Commands = make([]Command, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		b.Commands = append(b.Commands, decodeCommand(&d))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Batch{}, d.err
	}
	return b, b.Validate()
}

// Validate reports the first field of b outside the domain's limits.
func (b Batch) Validate() error {
	if b.Now <= 0 || b.Now > MaxTime || b.Skew < 0 || b.Skew > MaxSkew {
		return fmt.Errorf("%w: batch time or skew out of range", ErrInvalidCommand)
	}
	for _, c := range b.Commands {
		if err := Validate(c); err != nil {
			return err
		}
	}
	return nil
}

// Validate reports whether cmd is within the domain's limits. The log
// codec refuses an entry holding an invalid command, so the proposer checks
// each command before it joins a batch: one bad request must never fail
// the requests it was batched with.
func Validate(cmd Command) error {
	if err := validateCommand(cmd); err != nil {
		return fmt.Errorf("%w: %T: %v", ErrInvalidCommand, cmd, err)
	}
	return nil
}

func encodeCommand(e *encoder, cmd Command) {
	e.u8(byte(cmd.kind()))
	switch c := cmd.(type) {
	case Acquire:
		e.str(c.Name)
		e.id(c.LeaseID)
		e.id(c.HolderID)
		e.id(c.SessionID)
		e.dur(c.TTL)
		e.str(c.Metadata)
		e.dur(c.Wait)
		e.uvarint(uint64(c.MaxLocks))
	case Renew:
		e.str(c.Name)
		e.id(c.LeaseID)
		e.id(c.HolderID)
		e.dur(c.TTL)
	case Release:
		e.str(c.Name)
		e.id(c.LeaseID)
		e.id(c.HolderID)
	case CreateSession:
		e.id(c.ID)
		e.id(c.UserID)
		e.dur(c.TTL)
		e.uvarint(uint64(c.MaxSessions))
	case KeepAlive:
		e.id(c.ID)
		e.id(c.UserID)
	case DeleteSession:
		e.id(c.ID)
		e.id(c.UserID)
	case ExpireDue:
		e.uvarint(uint64(c.Limit))
	case SyncStaticUsers:
		encodeStaticUsers(e, c.Users)
	case BootstrapAdmin:
		e.id(c.ID)
		e.str(c.Login)
		e.hash(c.Hash)
	case IssueToken:
		e.id(c.UserID)
		e.str(c.Login)
		e.hash(c.Hash)
	case ReissueAdmin:
		e.id(c.ID)
		e.hash(c.Hash)
	case RotateToken:
		e.hash(c.Old)
		e.hash(c.New)
	case RevokeToken:
		e.hash(c.Hash)
		e.id(c.UserID)
	case CreateWebhook:
		e.id(c.ID)
		e.id(c.UserID)
		e.str(c.URL)
		e.str(c.Secret)
		e.u8(byte(c.Events))
		e.str(c.Pattern)
	case DeleteWebhook:
		e.id(c.ID)
		e.id(c.UserID)
	case AckWebhooks:
		e.uvarint(uint64(len(c.Acks)))
		for _, a := range c.Acks {
			e.id(a.ID)
			e.uvarint(a.Seq)
		}
	case WebhookFailing:
		e.id(c.ID)
	case DeactivateWebhook:
		e.id(c.ID)
		e.str(c.Reason)
	case CancelWait:
		e.str(c.Name)
		e.id(c.LeaseID)
		e.id(c.HolderID)
	case CancelAllWaiters:
	case SetNode:
		e.str(c.ID)
		e.str(c.HTTPAddr)
	case RemoveNode:
		e.str(c.ID)
	}
}

func encodeStaticUsers(e *encoder, users []StaticUser) {
	e.uvarint(uint64(len(users)))
	for _, u := range users {
		e.id(u.ID)
		e.str(u.Login)
		e.uvarint(uint64(len(u.Hashes)))
		for _, h := range u.Hashes {
			e.hash(h)
		}
	}
}

func decodeCommand(d *decoder) Command {
	switch kind(d.u8()) {
	case kindAcquire:
		c := Acquire{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id(),
			SessionID: d.id(), TTL: d.dur(), Metadata: d.str(MaxMetadataLen)}
		if d.version >= 2 {
			c.Wait = d.dur()
		}
		if d.version >= 3 {
			c.MaxLocks = d.quota()
		}
		return c
	case kindRenew:
		return Renew{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id(), TTL: d.dur()}
	case kindRelease:
		return Release{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id()}
	case kindCreateSession:
		c := CreateSession{ID: d.id(), UserID: d.id(), TTL: d.dur()}
		if d.version >= 3 {
			c.MaxSessions = d.quota()
		}
		return c
	case kindKeepAlive:
		return KeepAlive{ID: d.id(), UserID: d.id()}
	case kindDeleteSession:
		return DeleteSession{ID: d.id(), UserID: d.id()}
	case kindExpireDue:
		return ExpireDue{Limit: int(min(d.uvarint(), maxExpireLimit+1))}
	case kindSyncStaticUsers:
		return SyncStaticUsers{Users: decodeStaticUsers(d)}
	case kindBootstrapAdmin:
		return BootstrapAdmin{ID: d.id(), Login: d.str(MaxLoginLen), Hash: d.hash()}
	case kindIssueToken:
		return IssueToken{UserID: d.id(), Login: d.str(MaxLoginLen), Hash: d.hash()}
	case kindReissueAdmin:
		return ReissueAdmin{ID: d.id(), Hash: d.hash()}
	case kindRotateToken:
		return RotateToken{Old: d.hash(), New: d.hash()}
	case kindRevokeToken:
		return RevokeToken{Hash: d.hash(), UserID: d.id()}
	case kindCreateWebhook:
		return CreateWebhook{ID: d.id(), UserID: d.id(), URL: d.str(MaxWebhookURLLen),
			Secret: d.str(MaxWebhookSecret), Events: EventKind(d.u8()), Pattern: d.str(MaxLockNameLen)}
	case kindDeleteWebhook:
		return DeleteWebhook{ID: d.id(), UserID: d.id()}
	case kindAckWebhooks:
		return AckWebhooks{Acks: decodeAcks(d)}
	case kindWebhookFailing:
		return WebhookFailing{ID: d.id()}
	case kindDeactivateWebhook:
		return DeactivateWebhook{ID: d.id(), Reason: d.str(maxReasonLen)}
	case kindCancelWait:
		return CancelWait{Name: d.str(MaxLockNameLen), LeaseID: d.id(), HolderID: d.id()}
	case kindCancelAllWaiters:
		return CancelAllWaiters{}
	case kindSetNode:
		return SetNode{ID: d.str(MaxNodeIDLen), HTTPAddr: d.str(MaxNodeAddrLen)}
	case kindRemoveNode:
		return RemoveNode{ID: d.str(MaxNodeIDLen)}
	}
	d.fail("unknown command kind")
	return nil
}

func decodeAcks(d *decoder) []WebhookAck {
	n := d.count(17)
	acks := make([]WebhookAck, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		acks = append(acks, WebhookAck{ID: d.id(), Seq: d.uvarint()})
	}
	return acks
}

func decodeStaticUsers(d *decoder) []StaticUser {
	n := d.count(18)
	users := make([]StaticUser, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		u := StaticUser{ID: d.id(), Login: d.str(MaxLoginLen)}
		hashes := d.count(len(TokenHash{}))
		for j := 0; j < hashes && d.err == nil; j++ {
			u.Hashes = append(u.Hashes, d.hash())
		}
		users = append(users, u)
	}
	return users
}

var (
	errName     = errors.New("bad lock name")
	errTTL      = errors.New("ttl out of range")
	errID       = errors.New("missing id")
	errMetadata = errors.New("metadata too long")
	errLogin    = errors.New("bad login")
	errLimit    = errors.New("limit out of range")
	errToken    = errors.New("new token equals the old one")
	errWait     = errors.New("wait out of range")
	errQuota    = errors.New("quota out of range")
)

func validateCommand(cmd Command) error {
	switch c := cmd.(type) {
	case Acquire:
		return firstErr(nameErr(c.Name), lockTTLErr(c.TTL), idErr(c.LeaseID, c.HolderID),
			check(len(c.Metadata) <= MaxMetadataLen, errMetadata), check(c.Wait >= 0 && c.Wait <= MaxWait, errWait),
			quotaErr(c.MaxLocks))
	case CancelWait:
		return firstErr(nameErr(c.Name), idErr(c.LeaseID, c.HolderID))
	case Renew:
		return firstErr(nameErr(c.Name), lockTTLErr(c.TTL), idErr(c.LeaseID, c.HolderID))
	case Release:
		return firstErr(nameErr(c.Name), idErr(c.LeaseID, c.HolderID))
	case CreateSession:
		return firstErr(idErr(c.ID, c.UserID),
			check(c.TTL >= MinSessionTTL && c.TTL <= MaxSessionTTL, errTTL), quotaErr(c.MaxSessions))
	case KeepAlive:
		return idErr(c.ID, c.UserID)
	case DeleteSession:
		return idErr(c.ID, c.UserID)
	case ExpireDue:
		return check(c.Limit >= 1 && c.Limit <= maxExpireLimit, errLimit)
	case SyncStaticUsers:
		return validateStaticUsers(c.Users)
	case BootstrapAdmin:
		return firstErr(idErr(c.ID), loginErr(c.Login))
	case IssueToken:
		return firstErr(idErr(c.UserID), loginErr(c.Login))
	case ReissueAdmin:
		return idErr(c.ID)
	case RotateToken:
		return check(c.Old != c.New, errToken)
	case CreateWebhook:
		return firstErr(idErr(c.ID, c.UserID), validateWebhookFields(c))
	case DeleteWebhook:
		return idErr(c.ID, c.UserID)
	case AckWebhooks:
		for _, a := range c.Acks {
			if err := idErr(a.ID); err != nil {
				return err
			}
		}
	case WebhookFailing:
		return idErr(c.ID)
	case DeactivateWebhook:
		return idErr(c.ID)
	case SetNode:
		return firstErr(nodeIDErr(c.ID), check(c.HTTPAddr != "" && len(c.HTTPAddr) <= MaxNodeAddrLen, errNode))
	case RemoveNode:
		return nodeIDErr(c.ID)
	case nil:
		return errors.New("nil command")
	}
	return nil
}

var (
	errWebhook = errors.New("bad webhook fields")
	errNode    = errors.New("bad node id or address")
)

func nodeIDErr(id string) error { return check(id != "" && len(id) <= MaxNodeIDLen, errNode) }

func validateWebhookFields(c CreateWebhook) error {
	ok := strings.HasPrefix(c.URL, "https://") && len(c.URL) <= MaxWebhookURLLen &&
		len(c.Secret) <= MaxWebhookSecret && c.Events != 0 && c.Events&^AllEvents == 0 &&
		(c.Pattern == "" || ValidPattern(c.Pattern) == nil)
	return check(ok, errWebhook)
}

func validateStaticUsers(users []StaticUser) error {
	if len(users) > maxStaticUsers {
		return errLogin
	}
	for _, u := range users {
		if err := firstErr(idErr(u.ID), loginErr(u.Login)); err != nil {
			return err
		}
	}
	return nil
}

func quotaErr(q int) error { return check(q >= 0 && q <= MaxQuota, errQuota) }

func nameErr(name string) error { return check(ValidLockName(name) == nil, errName) }

func lockTTLErr(ttl time.Duration) error {
	return check(ttl >= MinLockTTL && ttl <= MaxLockTTL, errTTL)
}

func loginErr(login string) error {
	return check(login != "" && len(login) <= MaxLoginLen, errLogin)
}

func idErr(ids ...uuid.UUID) error {
	for _, id := range ids {
		if id == uuid.Nil {
			return errID
		}
	}
	return nil
}

func check(ok bool, err error) error {
	if ok {
		return nil
	}
	return err
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
