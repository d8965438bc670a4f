package state

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"github.com/google/btree"
	"github.com/google/uuid"
)

// Snapshot format, version 7:
//
//	"OCTOSNAP" | version uvarint | lastNow varint | nextToken uvarint
//	| users | tokens | revoked | sessions | locks | webhooks | outbox | nodes
//	| queues | namespaces | shapes | elected
//	| CRC-32 (IEEE, big endian) of all before
//
// Version 7 added the primitives: the locks section may hold several
// slots of one name (in token order), each waiter ends with its limit and
// mode, and two sections follow the namespaces: the shape (limit, mode)
// of every name held as anything but a mutex, and when each election's
// leader was elected. Version 5 and 6 snapshots still restore: they hold
// mutexes only.
//
// Version 6 added each token's scope, expiry and last use after its
// creation time, each user's GitHub account (ID, organizations, when they
// were checked, the stored grant) after its creation time, and the
// namespaces section; version 5 snapshots still restore, their tokens
// unscoped and never expiring (what every token was then), without
// GitHub accounts or bindings.
//
// Each section is a count followed by records in key order, so equal
// states always produce identical bytes.
const (
	snapshotMagic   = "OCTOSNAP"
	snapshotVersion = 7
	// primitivesVersion is the first version with semaphores, read/write
	// locks and elections.
	primitivesVersion = 7
	// scopedTokensVersion is the first version with token scopes.
	scopedTokensVersion = 6
	// accountsVersion is the first version with GitHub accounts and
	// namespace bindings.
	accountsVersion = 6
	oldestSnapshot  = 5
	flushAt         = 32 << 10
)

// Snapshot is a point-in-time view of a State. Taking it is O(users) —
// the lock and session trees are cloned copy-on-write — so the FSM lock is
// held only briefly while WriteTo runs concurrently with Apply.
type Snapshot struct {
	lastNow, nextToken uint64
	locks              *btree.BTreeG[*Lock]
	sessions           *btree.BTreeG[*Session]
	users              []*User
	tokens             []Token
	revoked            []TokenHash
	webhooks           []Webhook
	outbox             outbox
	nodes              [][2]string // id, http address; sorted by id
	queues             []queueCopy // sorted by lock name
	grants             map[uuid.UUID]string
	namespaces         []NamespaceBinding
	shapes             []namedShape
	elected            []namedShape // since in the shape's place: see writeElected
}

// namedShape is a name's shape, or an election's time of election, for
// sorting into a snapshot.
type namedShape struct {
	name  string
	shape shape
	since int64
}

type queueCopy struct {
	name    string
	waiters []Waiter
}

// Snapshot captures the current state.
func (s *State) Snapshot() *Snapshot {
	sn := &Snapshot{
		lastNow: uint64(s.lastNow), nextToken: s.nextToken,
		locks: s.locks.Clone(), sessions: s.sessions.Clone(),
		users:   make([]*User, 0, len(s.users)),
		tokens:  make([]Token, 0, len(s.tokens)),
		revoked: make([]TokenHash, 0, len(s.revoked)),
	}
	for _, u := range s.users {
		sn.users = append(sn.users, u)
	}
	for _, t := range s.tokens {
		sn.tokens = append(sn.tokens, t)
	}
	for h := range s.revoked {
		sn.revoked = append(sn.revoked, h)
	}
	// Sorted by ID, the webhooks' encoding order.
	for _, id := range s.sortedWebhookIDs() {
		sn.webhooks = append(sn.webhooks, *s.webhooks[id])
	}
	sn.outbox = s.outbox
	sn.grants = make(map[uuid.UUID]string, len(s.grants))
	for id, g := range s.grants {
		sn.grants[id] = g
	}
	sn.namespaces = make([]NamespaceBinding, 0, len(s.namespaces))
	for _, b := range s.namespaces {
		sn.namespaces = append(sn.namespaces, b) // sorted in WriteTo, off the FSM's lock
	}
	for id, addr := range s.nodes {
		sn.nodes = append(sn.nodes, [2]string{id, addr})
	}
	for name, sh := range s.shapes {
		sn.shapes = append(sn.shapes, namedShape{name: name, shape: sh})
	}
	for key, since := range s.elected {
		sn.elected = append(sn.elected, namedShape{name: key, since: since})
	}
	// Queues change in place, so they are copied; they are short-lived and
	// small next to the locks.
	for name, q := range s.queues {
		qc := queueCopy{name: name}
		for e := q.order.Front(); e != nil; e = e.Next() {
			qc.waiters = append(qc.waiters, *e.Value.(*Waiter))
		}
		sn.queues = append(sn.queues, qc)
	}
	return sn
}

// snapWriter streams records through a CRC and flushes in large chunks.
type snapWriter struct {
	e   encoder
	w   io.Writer
	crc uint32
	n   int64
	err error
}

func (sw *snapWriter) flush() {
	if sw.err == nil && len(sw.e.buf) > 0 {
		sw.crc = crc32.Update(sw.crc, crc32.IEEETable, sw.e.buf)
		var m int
		m, sw.err = sw.w.Write(sw.e.buf)
		sw.n += int64(m)
	}
	sw.e.buf = sw.e.buf[:0]
}

func (sw *snapWriter) maybeFlush() {
	if len(sw.e.buf) >= flushAt {
		sw.flush()
	}
}

// WriteTo writes the snapshot in its binary format.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	sw := &snapWriter{w: bw, e: encoder{buf: make([]byte, 0, 2*flushAt)}}
	sw.e.buf = append(sw.e.buf, snapshotMagic...)
	sw.e.uvarint(snapshotVersion)
	sw.e.varint(int64(sn.lastNow))
	sw.e.uvarint(sn.nextToken)
	sn.writeUsers(sw)
	sn.writeTokens(sw)
	sn.writeRevoked(sw)
	sn.writeSessions(sw)
	sn.writeLocks(sw)
	sn.writeWebhooks(sw)
	sn.writeOutbox(sw)
	sn.writeNodes(sw)
	sn.writeQueues(sw)
	sn.writeNamespaces(sw)
	sn.writeShapes(sw)
	sn.writeElected(sw)
	sw.flush()
	if sw.err == nil {
		sw.err = binary.Write(bw, binary.BigEndian, sw.crc)
		sw.n += 4
	}
	if sw.err == nil {
		sw.err = bw.Flush()
	}
	return sw.n, sw.err
}

func (sn *Snapshot) writeUsers(sw *snapWriter) {
	slices.SortFunc(sn.users, func(a, b *User) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	sw.e.uvarint(uint64(len(sn.users)))
	for _, u := range sn.users {
		sw.e.id(u.ID)
		sw.e.str(u.Login)
		sw.e.varint(u.CreatedAt)
		sw.e.varint(u.GitHubID)
		encodeOrgs(&sw.e, u.Orgs)
		sw.e.varint(u.OrgsCheckedAt)
		sw.e.str(sn.grants[u.ID])
		sw.maybeFlush()
	}
}

func (sn *Snapshot) writeNamespaces(sw *snapWriter) {
	slices.SortFunc(sn.namespaces, func(a, b NamespaceBinding) int { return strings.Compare(a.Namespace, b.Namespace) })
	sw.e.uvarint(uint64(len(sn.namespaces)))
	for _, b := range sn.namespaces {
		sw.e.str(b.Namespace)
		sw.e.str(b.Account)
		sw.e.varint(b.BoundAt)
		sw.maybeFlush()
	}
}

func (sn *Snapshot) writeTokens(sw *snapWriter) {
	slices.SortFunc(sn.tokens, func(a, b Token) int { return bytes.Compare(a.Hash[:], b.Hash[:]) })
	sw.e.uvarint(uint64(len(sn.tokens)))
	for _, t := range sn.tokens {
		sw.e.hash(t.Hash)
		sw.e.id(t.UserID)
		sw.e.u8(byte(t.Source))
		sw.e.varint(t.CreatedAt)
		sw.e.str(t.Name)
		sw.e.u8(byte(t.Access))
		encodePrefixes(&sw.e, t.Prefixes)
		sw.e.varint(t.ExpiresAt)
		sw.e.dur(t.Slide)
		sw.e.varint(t.LastUsed)
		sw.maybeFlush()
	}
}

func (sn *Snapshot) writeRevoked(sw *snapWriter) {
	slices.SortFunc(sn.revoked, func(a, b TokenHash) int { return bytes.Compare(a[:], b[:]) })
	sw.e.uvarint(uint64(len(sn.revoked)))
	for _, h := range sn.revoked {
		sw.e.hash(h)
		sw.maybeFlush()
	}
}

func (sn *Snapshot) writeSessions(sw *snapWriter) {
	sw.e.uvarint(uint64(sn.sessions.Len()))
	sn.sessions.Ascend(func(s *Session) bool {
		sw.e.id(s.ID)
		sw.e.id(s.UserID)
		sw.e.dur(s.TTL)
		sw.e.varint(s.CreatedAt)
		sw.e.varint(s.ExpiresAt)
		sw.e.varint(s.FreeAt)
		sw.e.varint(s.EndedAt)
		sw.e.bool(s.Expired)
		sw.maybeFlush()
		return sw.err == nil
	})
}

func (sn *Snapshot) writeLocks(sw *snapWriter) {
	sw.e.uvarint(uint64(sn.locks.Len()))
	sn.locks.Ascend(func(l *Lock) bool {
		sw.e.str(l.Name)
		sw.e.id(l.LeaseID)
		sw.e.id(l.HolderID)
		sw.e.id(l.SessionID)
		sw.e.uvarint(l.Token)
		sw.e.varint(l.ExpiresAt)
		sw.e.varint(l.FreeAt)
		if l.Metadata != nil {
			sw.e.str(*l.Metadata)
		} else {
			sw.e.str("")
		}
		sw.maybeFlush()
		return sw.err == nil
	})
}

func (sn *Snapshot) writeWebhooks(sw *snapWriter) {
	sw.e.uvarint(uint64(len(sn.webhooks)))
	for _, w := range sn.webhooks {
		sw.e.id(w.ID)
		sw.e.id(w.UserID)
		sw.e.str(w.URL)
		sw.e.str(w.Secret)
		sw.e.u8(byte(w.Events))
		sw.e.str(w.Pattern)
		sw.e.varint(w.CreatedAt)
		sw.e.uvarint(w.Cursor)
		sw.e.varint(w.FailingSince)
		sw.e.bool(w.Active)
		sw.e.str(w.InactiveReason)
		sw.maybeFlush()
	}
}

func (sn *Snapshot) writeOutbox(sw *snapWriter) {
	sw.e.uvarint(sn.outbox.nextSeq)
	sw.e.uvarint(uint64(len(sn.outbox.events)))
	for _, ev := range sn.outbox.events {
		sw.e.u8(byte(ev.Kind))
		sw.e.str(ev.Lock)
		sw.e.id(ev.HolderID)
		sw.e.uvarint(ev.Token)
		sw.e.varint(ev.Time)
		sw.maybeFlush()
	}
}

func (sn *Snapshot) writeNodes(sw *snapWriter) {
	slices.SortFunc(sn.nodes, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	sw.e.uvarint(uint64(len(sn.nodes)))
	for _, n := range sn.nodes {
		sw.e.str(n[0])
		sw.e.str(n[1])
	}
}

func (sn *Snapshot) writeQueues(sw *snapWriter) {
	slices.SortFunc(sn.queues, func(a, b queueCopy) int { return strings.Compare(a.name, b.name) })
	sw.e.uvarint(uint64(len(sn.queues)))
	for _, q := range sn.queues {
		sw.e.str(q.name)
		sw.e.uvarint(uint64(len(q.waiters)))
		for _, w := range q.waiters {
			sw.e.id(w.LeaseID)
			sw.e.id(w.HolderID)
			sw.e.id(w.SessionID)
			sw.e.dur(w.TTL)
			sw.e.str(w.Metadata)
			sw.e.varint(w.Deadline)
			sw.e.uvarint(uint64(w.Limit))
			sw.e.u8(byte(w.Mode))
		}
		sw.maybeFlush()
	}
}

func sortNamed(v []namedShape) {
	slices.SortFunc(v, func(a, b namedShape) int { return strings.Compare(a.name, b.name) })
}

func (sn *Snapshot) writeShapes(sw *snapWriter) {
	sortNamed(sn.shapes)
	sw.e.uvarint(uint64(len(sn.shapes)))
	for _, n := range sn.shapes {
		sw.e.str(n.name)
		sw.e.uvarint(uint64(n.shape.limit))
		sw.e.u8(byte(n.shape.mode))
		sw.maybeFlush()
	}
}

func (sn *Snapshot) writeElected(sw *snapWriter) {
	sortNamed(sn.elected)
	sw.e.uvarint(uint64(len(sn.elected)))
	for _, n := range sn.elected {
		sw.e.str(n.name)
		sw.e.varint(n.since)
		sw.maybeFlush()
	}
}

// Restore reads a snapshot written by WriteTo and rebuilds a State from
// it. Corrupt or inconsistent input is refused with an error wrapping
// ErrCorrupt; it never panics and never returns a partial State.
func Restore(r io.Reader) (*State, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) < len(snapshotMagic)+4 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not an OctoStore snapshot", ErrCorrupt)
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: snapshot checksum mismatch", ErrCorrupt)
	}
	d := &decoder{b: body[len(snapshotMagic):]}
	v := d.uvarint()
	if v < oldestSnapshot || v > snapshotVersion {
		return nil, fmt.Errorf("%w: unsupported snapshot version %d", ErrCorrupt, v)
	}
	s := New()
	s.lastNow = d.varint()
	s.nextToken = d.uvarint()
	readUsers := func(d *decoder) { s.readUsers(d, v) }
	readTokens := func(d *decoder) { s.readTokens(d, v) }
	readQueues := func(d *decoder) { s.readQueues(d, v) }
	sections := []func(*decoder){readUsers, readTokens, s.readRevoked, s.readSessions,
		s.readLocks, s.readWebhooks, s.readOutbox, s.readNodes, readQueues}
	if v >= accountsVersion {
		sections = append(sections, s.readNamespaces)
	}
	if v >= primitivesVersion {
		sections = append(sections, s.readShapes, s.readElected)
	}
	sections = append(sections, s.checkShapes)
	for _, section := range sections {
		section(d)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return s, nil
}
