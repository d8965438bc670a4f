package state

import (
	"bytes"

	"github.com/google/uuid"
)

// The read* methods decode one snapshot section into s, refusing records
// that are out of order or inconsistent with what came before; the derived
// indexes are rebuilt as records are stored.

// readUsers reads the users of a snapshot of version v: before
// accountsVersion a record ends at its creation time.
func (s *State) readUsers(d *decoder, v uint64) {
	n := d.count(18)
	var prev uuid.UUID
	for i := 0; i < n && d.err == nil; i++ {
		u := &User{ID: d.id(), Login: d.str(MaxLoginLen), CreatedAt: d.varint()}
		var grant string
		if v >= accountsVersion {
			u.GitHubID, u.Orgs, u.OrgsCheckedAt, grant = d.varint(), decodeOrgs(d), d.varint(), d.str(MaxGrantLen)
		}
		if d.err == nil && (bytes.Compare(u.ID[:], prev[:]) <= 0 || loginErr(u.Login) != nil || !validAccountRecord(u, grant)) {
			d.fail("bad user record")
		}
		prev = u.ID
		s.users[u.ID] = u
		if grant != "" {
			s.grants[u.ID] = grant
		}
	}
}

// validAccountRecord: a user's GitHub fields are what RecordGitHubAccount
// leaves (orgs sorted by ID without repeats), or none at all.
func validAccountRecord(u *User, grant string) bool {
	if u.GitHubID == 0 {
		return len(u.Orgs) == 0 && u.OrgsCheckedAt == 0 && grant == ""
	}
	for i := 1; i < len(u.Orgs); i++ {
		if u.Orgs[i-1].ID >= u.Orgs[i].ID {
			return false
		}
	}
	return RecordGitHubAccount{UserID: u.ID, Login: u.Login, GitHubID: u.GitHubID, Orgs: u.Orgs, Grant: grant}.validate() == nil
}

func (s *State) readNamespaces(d *decoder) {
	n := d.count(4)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		b := NamespaceBinding{Namespace: d.str(MaxLockComponentLen), Account: d.str(MaxAccountLen), BoundAt: d.varint()}
		if d.err == nil && (validateCommand(BindNamespace{Namespace: b.Namespace, Account: b.Account}) != nil || b.Namespace <= prev) {
			d.fail("bad namespace record")
		}
		prev = b.Namespace
		s.putBinding(b)
	}
}

// readTokens reads the tokens of a snapshot of version v: before
// scopedTokensVersion a record ends at its creation time.
func (s *State) readTokens(d *decoder, v uint64) {
	n := d.count(len(TokenHash{}) + 18)
	var prev TokenHash
	for i := 0; i < n && d.err == nil; i++ {
		t := Token{Hash: d.hash(), UserID: d.id(), Source: TokenSource(d.u8()), CreatedAt: d.varint()}
		if v >= scopedTokensVersion {
			t.Name, t.Access = d.str(MaxTokenNameLen), Access(d.u8())
			t.Prefixes = decodePrefixes(d)
			t.ExpiresAt, t.Slide, t.LastUsed = d.varint(), d.dur(), d.varint()
		}
		_, userOK := s.users[t.UserID]
		if d.err == nil && (!userOK || t.Source < SourceStatic || t.Source > SourceCreated ||
			bytes.Compare(t.Hash[:], prev[:]) <= 0 || scopeErr(t.Name, t.Access, t.Prefixes) != nil ||
			t.ExpiresAt < 0 || t.Slide < 0 || t.Slide > MaxTokenTTL) {
			d.fail("bad token record")
		}
		prev = t.Hash
		s.tokens[t.Hash] = t
	}
}

func (s *State) readRevoked(d *decoder) {
	n := d.count(len(TokenHash{}))
	var prev TokenHash
	for i := 0; i < n && d.err == nil; i++ {
		h := d.hash()
		if bytes.Compare(h[:], prev[:]) <= 0 {
			d.fail("bad revoked token record")
		}
		prev = h
		s.revoked[h] = struct{}{}
	}
}

func (s *State) readSessions(d *decoder) {
	n := d.count(38)
	var prev uuid.UUID
	for i := 0; i < n && d.err == nil; i++ {
		sess := &Session{ID: d.id(), UserID: d.id(), TTL: d.dur(), CreatedAt: d.varint(),
			ExpiresAt: d.varint(), FreeAt: d.varint(), EndedAt: d.varint(), Expired: d.bool()}
		if !s.validSessionRecord(sess, prev) {
			d.fail("bad session record")
			return
		}
		prev = sess.ID
		s.putSession(nil, sess)
	}
}

func (s *State) validSessionRecord(sess *Session, prev uuid.UUID) bool {
	_, userOK := s.users[sess.UserID]
	return userOK && bytes.Compare(sess.ID[:], prev[:]) > 0 &&
		sess.TTL >= MinSessionTTL && sess.TTL <= MaxSessionTTL &&
		sess.FreeAt >= sess.ExpiresAt && sess.EndedAt >= 0 && (!sess.Expired || sess.Ended())
}

func (s *State) readLocks(d *decoder) {
	n := d.count(58)
	var prev *Lock
	for i := 0; i < n && d.err == nil; i++ {
		l := &Lock{Name: d.str(maxKeyLen), LeaseID: d.id(), HolderID: d.id(),
			SessionID: d.id(), Token: d.uvarint(),
			ExpiresAt: d.varint(), FreeAt: d.varint(), Metadata: metadata(d.str(MaxMetadataLen))}
		if d.err != nil || !s.validLockRecord(l, prev) {
			d.fail("bad lock record")
			return
		}
		prev = l
		s.putLock(nil, l)
	}
}

// validLockRecord: slots come in (name, token) order; whether a name may
// have several is checked once the shapes are read (checkShapes).
func (s *State) validLockRecord(l *Lock, prev *Lock) bool {
	_, userOK := s.users[l.HolderID]
	sessionOK := l.SessionID == uuid.Nil
	if sess, ok := s.sessions.Get(&Session{ID: l.SessionID}); ok {
		sessionOK = !sess.Ended() && sess.UserID == l.HolderID
	}
	return userOK && sessionOK && (prev == nil || lockLess(prev, l)) && validKey(l.Name) == nil &&
		l.LeaseID != uuid.Nil && l.Token >= 1 && l.Token < s.nextToken &&
		l.FreeAt >= l.ExpiresAt
}

func (s *State) readWebhooks(d *decoder) {
	n := d.count(40)
	var prev uuid.UUID
	for i := 0; i < n && d.err == nil; i++ {
		w := &Webhook{ID: d.id(), UserID: d.id(), URL: d.str(MaxWebhookURLLen), Secret: d.str(MaxWebhookSecret),
			Events: EventKind(d.u8()), Pattern: d.str(MaxLockNameLen), CreatedAt: d.varint(), Cursor: d.uvarint(),
			FailingSince: d.varint(), Active: d.bool(), InactiveReason: d.str(maxReasonLen)}
		_, userOK := s.users[w.UserID]
		c := CreateWebhook{ID: w.ID, UserID: w.UserID, URL: w.URL, Secret: w.Secret, Events: w.Events, Pattern: w.Pattern}
		if d.err == nil && (!userOK || bytes.Compare(w.ID[:], prev[:]) <= 0 || validateWebhookFields(c) != nil) {
			d.fail("bad webhook record")
		}
		prev = w.ID
		s.webhooks[w.ID] = w
	}
}

// readOutbox restores the events; their seqs are consecutive, ending just
// before nextSeq.
func (s *State) readOutbox(d *decoder) {
	next := d.uvarint()
	n := d.count(20)
	if next == 0 || uint64(n) >= next {
		d.fail("bad outbox header")
		return
	}
	s.outbox = outbox{nextSeq: next, events: make([]Event, 0, n)}
	for i := 0; i < n && d.err == nil; i++ {
		ev := Event{Seq: next - uint64(n) + uint64(i), Kind: EventKind(d.u8()), Lock: d.str(MaxLockNameLen),
			HolderID: d.id(), Token: d.uvarint(), Time: d.varint()}
		if ev.Kind.String() == "" {
			d.fail("bad event record")
		}
		s.outbox.events = append(s.outbox.events, ev)
	}
	for _, w := range s.webhooks {
		if w.Cursor >= next {
			d.fail("webhook cursor past the last event")
		}
	}
}

func (s *State) readNodes(d *decoder) {
	n := d.count(2)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		c := SetNode{ID: d.str(MaxNodeIDLen), HTTPAddr: d.str(MaxNodeAddrLen)}
		if d.err == nil && (validateCommand(c) != nil || c.ID <= prev) {
			d.fail("bad node record")
		}
		prev = c.ID
		s.nodes[c.ID] = c.HTTPAddr
	}
}

// readQueues reads the queues of a snapshot of version v: before
// primitivesVersion a waiter ends at its deadline.
func (s *State) readQueues(d *decoder, v uint64) {
	n := d.count(2)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		name := d.str(maxKeyLen)
		waiters := d.count(50)
		if d.err == nil && (validKey(name) != nil || name <= prev || waiters == 0) {
			d.fail("bad queue record")
		}
		prev = name
		q := newWaitQueue()
		for j := 0; j < waiters && d.err == nil; j++ {
			w := &Waiter{LeaseID: d.id(), HolderID: d.id(), SessionID: d.id(), TTL: d.dur(),
				Metadata: d.str(MaxMetadataLen), Deadline: d.varint()}
			if v >= primitivesVersion {
				w.Limit, w.Mode = uint16(min(d.uvarint(), MaxLimit+1)), Mode(d.u8())
			}
			_, dup := q.byLease[w.LeaseID]
			if d.err == nil && (dup || lockTTLErr(w.TTL) != nil || idErr(w.LeaseID, w.HolderID) != nil ||
				shapeErr(int(w.Limit), w.Mode) != nil) {
				d.fail("bad waiter record")
			}
			q.push(w)
			s.counts.waiters++
		}
		s.queues[name] = q
	}
}
