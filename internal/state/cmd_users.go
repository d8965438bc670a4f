package state

import (
	"time"

	"github.com/google/uuid"
)

// The user and token commands, each with its codec, limits and apply rule.

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

func (SyncStaticUsers) kind() kind { return kindSyncStaticUsers }

func (c SyncStaticUsers) encode(e *encoder) {
	encodeStaticUsers(e, c.Users)
}

func (SyncStaticUsers) decode(d *decoder) Command {
	return SyncStaticUsers{Users: decodeStaticUsers(d)}
}

func (c SyncStaticUsers) validate() error {
	return validateStaticUsers(c.Users)
}

func (c SyncStaticUsers) apply(s *State, now int64, skew time.Duration) Result {
	return s.syncStaticUsers(now, c)
}

// BootstrapAdmin creates (or reuses) a user and gives it a token, only if no
// token exists at all, so replays and racing leaders are harmless. The
// server proposes it only when no identity source is configured and no
// user exists (a first start); this rule is kept as it was, since older
// log entries replay under it.
type BootstrapAdmin struct {
	ID    uuid.UUID
	Login string
	Hash  TokenHash
}

func (BootstrapAdmin) kind() kind { return kindBootstrapAdmin }

func (c BootstrapAdmin) encode(e *encoder) {
	e.id(c.ID)
	e.str(c.Login)
	e.hash(c.Hash)
}

func (BootstrapAdmin) decode(d *decoder) Command {
	return BootstrapAdmin{ID: d.id(), Login: d.str(MaxLoginLen), Hash: d.hash()}
}

func (c BootstrapAdmin) validate() error {
	return firstErr(idErr(c.ID), loginErr(c.Login))
}

func (c BootstrapAdmin) apply(s *State, now int64, skew time.Duration) Result {
	return s.bootstrapAdmin(now, c)
}

// IssueToken records a signed-in user, creating it or updating its login,
// and gives it a new token.
type IssueToken struct {
	UserID uuid.UUID
	Login  string
	Hash   TokenHash
}

func (IssueToken) kind() kind { return kindIssueToken }

func (c IssueToken) encode(e *encoder) {
	e.id(c.UserID)
	e.str(c.Login)
	e.hash(c.Hash)
}

func (IssueToken) decode(d *decoder) Command {
	return IssueToken{UserID: d.id(), Login: d.str(MaxLoginLen), Hash: d.hash()}
}

func (c IssueToken) validate() error {
	return firstErr(idErr(c.UserID), loginErr(c.Login))
}

func (c IssueToken) apply(s *State, now int64, skew time.Duration) Result {
	return s.issueToken(now, c)
}

// ReissueAdmin gives the existing first-start admin (user ID) one more
// token, with the same source as its first. It is how an operator whose
// admin token is lost gets a working one (octostore token issue-admin, run
// on the stopped node); the user's other tokens keep working.
type ReissueAdmin struct {
	ID   uuid.UUID
	Hash TokenHash
}

func (ReissueAdmin) kind() kind { return kindReissueAdmin }

func (c ReissueAdmin) encode(e *encoder) {
	e.id(c.ID)
	e.hash(c.Hash)
}

func (ReissueAdmin) decode(d *decoder) Command {
	return ReissueAdmin{ID: d.id(), Hash: d.hash()}
}

func (c ReissueAdmin) validate() error { return idErr(c.ID) }

func (c ReissueAdmin) apply(s *State, now int64, _ time.Duration) Result {
	return s.reissueAdmin(now, c)
}

// RotateToken replaces the token Old with New, for the same user.
type RotateToken struct {
	Old, New TokenHash
}

func (RotateToken) kind() kind { return kindRotateToken }

func (c RotateToken) encode(e *encoder) {
	e.hash(c.Old)
	e.hash(c.New)
}

func (RotateToken) decode(d *decoder) Command {
	return RotateToken{Old: d.hash(), New: d.hash()}
}

func (c RotateToken) validate() error {
	return check(c.Old != c.New, errToken)
}

func (c RotateToken) apply(s *State, now int64, skew time.Duration) Result {
	return s.rotateToken(now, c)
}

// RevokeToken deletes a token. With UserID set it must be that user's.
type RevokeToken struct {
	Hash   TokenHash
	UserID uuid.UUID
}

func (RevokeToken) kind() kind { return kindRevokeToken }

func (c RevokeToken) encode(e *encoder) {
	e.hash(c.Hash)
	e.id(c.UserID)
}

func (RevokeToken) decode(d *decoder) Command {
	return RevokeToken{Hash: d.hash(), UserID: d.id()}
}

func (c RevokeToken) validate() error {
	return nil
}

func (c RevokeToken) apply(s *State, now int64, skew time.Duration) Result {
	return s.revokeToken(c)
}

// RetireUsers takes every token of the listed users, whatever issued it
// (static, rotated, bootstrap, sign-in): the identity configuration no
// longer names them. The users themselves stay, because their locks,
// sessions and webhooks refer to them; those end as they would anyway
// (locks and sessions expire, as nobody can renew them). The leader picks
// the IDs (static users no longer configured, the first-start admin once
// an identity source exists), so replay needs no configuration.
type RetireUsers struct {
	IDs []uuid.UUID
}

func (RetireUsers) kind() kind { return kindRetireUsers }

func (c RetireUsers) encode(e *encoder) {
	e.uvarint(uint64(len(c.IDs)))
	for _, id := range c.IDs {
		e.id(id)
	}
}

func (RetireUsers) decode(d *decoder) Command {
	n := d.count(len(uuid.UUID{}))
	ids := make([]uuid.UUID, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ids = append(ids, d.id())
	}
	return RetireUsers{IDs: ids}
}

func (c RetireUsers) validate() error {
	return firstErr(check(len(c.IDs) <= maxStaticUsers+1, errLogin), idErr(c.IDs...))
}

func (c RetireUsers) apply(s *State, _ int64, _ time.Duration) Result {
	return s.retireUsers(c)
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
