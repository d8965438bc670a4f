package state

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Log entry format (version 4; see batchVersion for what each added):
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
	// 4 changed a rule, not a field: a re-acquire that does not move the
	// expiry emits no renewed event (entries of 1 to 3 still do, see
	// Batch.Version).
	batchVersion = 4
	// quietReacquireVersion is the first version under that rule.
	quietReacquireVersion = 4
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
	b := Batch{Now: d.varint(), Skew: d.dur(), Version: version}
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
	cmd.encode(e)
}

func decodeCommand(d *decoder) Command {
	c, ok := registry[kind(d.u8())]
	if !ok {
		d.fail("unknown command kind")
		return nil
	}
	return c.decode(d)
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
	if cmd == nil {
		return errors.New("nil command")
	}
	return cmd.validate()
}

var (
	errWebhook = errors.New("bad webhook fields")
	errNode    = errors.New("bad node id or address")
)

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
