package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ErrCorrupt is returned for log entries and snapshots that do not decode.
var ErrCorrupt = errors.New("corrupt encoding")

// encoder appends the compact binary form shared by log entries and
// snapshots: varints, length-prefixed strings, raw 16-byte IDs.
type encoder struct{ buf []byte }

func (e *encoder) u8(v byte)           { e.buf = append(e.buf, v) }
func (e *encoder) uvarint(v uint64)    { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)      { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) id(v uuid.UUID)      { e.buf = append(e.buf, v[:]...) }
func (e *encoder) hash(v TokenHash)    { e.buf = append(e.buf, v[:]...) }
func (e *encoder) dur(v time.Duration) { e.varint(int64(v)) }
func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *encoder) str(v string) {
	e.uvarint(uint64(len(v)))
	e.buf = append(e.buf, v...)
}

// decoder reads what encoder wrote. The first failure sticks: later reads
// return zero values, and err says where it went wrong. Lengths are checked
// against the bytes left, so corrupt input cannot make it allocate much.
type decoder struct {
	b       []byte
	err     error
	version byte // of the log entry being decoded
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (d *decoder) u8() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) raw(n int) []byte {
	if d.err != nil || len(d.b) < n {
		d.fail("truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) id() (v uuid.UUID) {
	copy(v[:], d.raw(16))
	return v
}

func (d *decoder) hash() (v TokenHash) {
	copy(v[:], d.raw(len(v)))
	return v
}

// quota reads a per-user limit, clamped just past MaxQuota so that
// validation refuses it.
func (d *decoder) quota() int { return int(min(d.uvarint(), MaxQuota+1)) }

func (d *decoder) dur() time.Duration { return time.Duration(d.varint()) }

func (d *decoder) bool() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bad bool")
	return false
}

func (d *decoder) str(max int) string {
	n := d.uvarint()
	if n > uint64(max) {
		d.fail("string too long")
		return ""
	}
	return string(d.raw(int(n)))
}

// count reads a collection length; each element takes at least minSize
// bytes, which bounds it by the input left.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/minSize) {
		d.fail("count exceeds input")
		return 0
	}
	return int(n)
}
