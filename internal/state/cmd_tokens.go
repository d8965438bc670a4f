package state

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// The commands of scoped and expiring tokens, each with its codec, limits
// and apply rule.

// CreateToken gives a user a new token: a scoped one (POST /auth/tokens,
// Source SourceCreated) or a sign-in token that expires (Source
// SourceSignIn). With Login set the user is created or renamed, as at
// sign-in; without, it must exist.
type CreateToken struct {
	Hash     TokenHash
	UserID   uuid.UUID
	Login    string
	Source   TokenSource
	Name     string
	Access   Access
	Prefixes []string
	TTL      time.Duration // 0: never expires
	Slide    bool          // each recorded use moves the expiry to that use plus TTL
}

func (CreateToken) kind() kind { return kindCreateToken }

func (c CreateToken) encode(e *encoder) {
	e.hash(c.Hash)
	e.id(c.UserID)
	e.str(c.Login)
	e.u8(byte(c.Source))
	e.str(c.Name)
	e.u8(byte(c.Access))
	encodePrefixes(e, c.Prefixes)
	e.dur(c.TTL)
	e.bool(c.Slide)
}

func (CreateToken) decode(d *decoder) Command {
	c := CreateToken{Hash: d.hash(), UserID: d.id(), Login: d.str(MaxLoginLen), Source: TokenSource(d.u8()),
		Name: d.str(MaxTokenNameLen), Access: Access(d.u8())}
	c.Prefixes = decodePrefixes(d)
	c.TTL, c.Slide = d.dur(), d.bool()
	return c
}

var errScope = errors.New("bad token scope")

func (c CreateToken) validate() error {
	login := check(c.Login == "" || loginErr(c.Login) == nil, errLogin)
	source := check(c.Source == SourceCreated || c.Source == SourceSignIn, errScope)
	ttl := check(c.TTL >= 0 && c.TTL <= MaxTokenTTL && (!c.Slide || c.TTL > 0), errTTL)
	return firstErr(idErr(c.UserID), login, source, ttl, scopeErr(c.Name, c.Access, c.Prefixes))
}

// scopeErr checks a scope: an unscoped token has no prefixes; a scoped
// one has 1 to MaxTokenPrefixes valid ones.
func scopeErr(name string, access Access, prefixes []string) error {
	if len(name) > MaxTokenNameLen || access > AccessRead {
		return errScope
	}
	if access == AccessFull {
		return check(len(prefixes) == 0, errScope)
	}
	if len(prefixes) == 0 || len(prefixes) > MaxTokenPrefixes {
		return errScope
	}
	for _, p := range prefixes {
		if ValidTokenPrefix(p) != nil {
			return errScope
		}
	}
	return nil
}

func (c CreateToken) apply(s *State, now int64, _ time.Duration) Result {
	return s.createToken(now, c)
}

// TouchTokens records a use of each token at the batch's time, and moves
// a sliding token's expiry. The leader proposes it at most about once an
// hour per token (see httpapi's usage), so the log does not grow with
// requests.
type TouchTokens struct {
	Hashes []TokenHash
}

// MaxTouch bounds the tokens of one TouchTokens.
const MaxTouch = 1024

func (TouchTokens) kind() kind { return kindTouchTokens }

func (c TouchTokens) encode(e *encoder) {
	e.uvarint(uint64(len(c.Hashes)))
	for _, h := range c.Hashes {
		e.hash(h)
	}
}

func (TouchTokens) decode(d *decoder) Command {
	n := d.count(len(TokenHash{}))
	c := TouchTokens{Hashes: make([]TokenHash, 0, n)}
	for i := 0; i < n && d.err == nil; i++ {
		c.Hashes = append(c.Hashes, d.hash())
	}
	return c
}

func (c TouchTokens) validate() error {
	return check(len(c.Hashes) >= 1 && len(c.Hashes) <= MaxTouch, errLimit)
}

func (c TouchTokens) apply(s *State, now int64, _ time.Duration) Result {
	return s.touchTokens(now, c)
}

func encodePrefixes(e *encoder, prefixes []string) {
	e.uvarint(uint64(len(prefixes)))
	for _, p := range prefixes {
		e.str(p)
	}
}

func decodePrefixes(d *decoder) []string {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	ps := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ps = append(ps, d.str(MaxLockNameLen))
	}
	return ps
}
