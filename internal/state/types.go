package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Limits of the domain, shared by the HTTP layer's validation and the codec's
// refusal of corrupt commands.
const (
	MaxLockNameLen      = 256
	MaxLockComponentLen = 64
	MaxMetadataLen      = 1024
	MaxLoginLen         = 256
	MinLockTTL          = time.Second
	MaxLockTTL          = time.Hour
	MinSessionTTL       = 10 * time.Second
	MaxSessionTTL       = 300 * time.Second
	DefaultSessionTTL   = 60 * time.Second
	// TombstoneTTL is how long an ended session stays readable as inactive.
	TombstoneTTL = time.Hour
	// MaxSkew bounds the clock-skew margin a batch may carry.
	MaxSkew = time.Minute
	// MaxTime bounds a batch's time (unix nanoseconds, about the year
	// 2116), so that time plus any TTL, margin or tombstone lifetime stays
	// far from overflowing int64.
	MaxTime = int64(1) << 62
	// MaxNodeIDLen and MaxNodeAddrLen bound cluster member records.
	MaxNodeIDLen   = 128
	MaxNodeAddrLen = 256
	// MaxLimit bounds a semaphore's slots (Acquire.Limit).
	MaxLimit = 1000
	// MaxElectionValue bounds an election leader's value.
	MaxElectionValue = MaxMetadataLen
)

// Sentinel errors returned in Result.Err. The HTTP layer maps them to status
// codes in one table.
var (
	ErrLockHeld        = errors.New("lock is held by another holder")
	ErrLockNotFound    = errors.New("lock not found or not owned by caller")
	ErrSessionNotFound = errors.New("session not found")
	ErrSessionExpired  = errors.New("session expired")
	ErrSessionInvalid  = errors.New("session is unknown, not yours, or no longer active")
	ErrUnknownUser     = errors.New("unknown user")
	ErrTokenNotFound   = errors.New("token not found")
	ErrTooManyWebhooks = errors.New("at most 10 webhooks per user")
	ErrWebhookNotFound = errors.New("webhook not found")
	ErrTooManyLocks    = errors.New("too many locks held by this user")
	ErrTooManySessions = errors.New("too many live sessions for this user")
	ErrWaiterNotFound  = errors.New("no such waiter: it was granted and released, or skipped")
	ErrInvalidCommand  = errors.New("invalid command")
	// ErrLimitMismatch refuses an acquire whose limit (slots; 1 for a
	// mutex or a read/write lock) differs from the current holders'.
	// Result.Limit names the current limit.
	ErrLimitMismatch = errors.New("limit differs from the current holders' limit")
)

// TokenHash is the SHA-256 digest of a bearer token. Only digests are kept.
type TokenHash [sha256.Size]byte

// HashToken returns the digest under which a bearer token is stored.
func HashToken(token string) TokenHash { return sha256.Sum256([]byte(token)) }

// Lock is a held lock. It is immutable once stored.
type Lock struct {
	Name      string
	LeaseID   uuid.UUID
	HolderID  uuid.UUID // the user
	SessionID uuid.UUID // uuid.Nil when not acquired with a session
	Token     uint64    // fencing token
	// ExpiresAt is unix nanoseconds. FreeAt is ExpiresAt plus the skew
	// margin in force when it was set: nobody else can acquire the lock
	// before FreeAt.
	ExpiresAt int64
	FreeAt    int64
	// Metadata is nil when none was given. A pointer keeps Lock at 96
	// bytes, which matters at a million locks.
	Metadata *string
}

// Session groups locks that end together. It is immutable once stored.
type Session struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	TTL       time.Duration
	CreatedAt int64
	ExpiresAt int64
	FreeAt    int64 // ExpiresAt plus skew: when expiry releases the locks
	EndedAt   int64 // 0 while live
	Expired   bool  // ended by expiry rather than by DELETE
}

// Ended reports whether the session is a tombstone.
func (s *Session) Ended() bool { return s.EndedAt != 0 }

// ActiveAt reports whether the session can be used (kept alive, acquired
// with) at now.
func (s *Session) ActiveAt(now int64) bool { return !s.Ended() && now < s.ExpiresAt }

// TokenSource says how a token came to be.
type TokenSource uint8

// Token sources.
const (
	SourceStatic    TokenSource = iota + 1 // the operator's configuration
	SourceBootstrap                        // the first-start admin
	SourceSignIn                           // a GitHub sign-in
	SourceRotated                          // POST /auth/token/rotate
	SourceCreated                          // POST /auth/tokens: a scoped token
)

// Token is a bearer token's record: only its digest is kept. The fields
// after CreatedAt are zero for an unscoped token that never expires.
type Token struct {
	Hash      TokenHash
	UserID    uuid.UUID
	Source    TokenSource
	CreatedAt int64
	Name      string   // given at creation; "" for the other sources
	Access    Access   // AccessFull: unscoped, Prefixes is nil
	Prefixes  []string // the lock names a scoped token covers; never modified in place
	ExpiresAt int64    // unix nanoseconds; 0: never
	// Slide, when set, moves ExpiresAt to each recorded use plus Slide
	// (sign-in tokens under --token-ttl).
	Slide    time.Duration
	LastUsed int64 // the last recorded use (TouchTokens); 0: none yet
}

// ID is the token's public name: the first 8 bytes of its digest, in hex.
// It identifies a token for listing and revoking and reveals nothing of it.
func (t Token) ID() string { return hex.EncodeToString(t.Hash[:8]) }

// MaxTokensPerUser bounds the tokens a user accumulates by signing in on
// many devices; issuing one more revokes the oldest that is not static.
const MaxTokensPerUser = 50

// User is an identity that can hold locks.
type User struct {
	ID        uuid.UUID
	Login     string
	CreatedAt int64
	// GitHubID is the GitHub account's numeric ID (RecordGitHubAccount);
	// 0 for a user that is not a GitHub account.
	GitHubID int64
	// Orgs are the GitHub organizations the user belongs to, sorted by
	// ID, as GitHub last answered at OrgsCheckedAt (unix nanoseconds; 0:
	// never asked). How long that answer counts is the reader's policy.
	Orgs          []Org
	OrgsCheckedAt int64
}

// Org is a GitHub organization: its numeric ID, which never changes, and
// its login, which can.
type Org struct {
	ID    int64
	Login string
}

// ValidLockName reports why name is not a valid lock name, or nil: the
// seed's pattern ^[a-zA-Z0-9._-]+(/[a-zA-Z0-9._-]+)*$, at most 256 bytes,
// components of 1..64 bytes, no "." or ".." components.
func ValidLockName(name string) error {
	if name == "" {
		return errors.New("lock name is empty")
	}
	if len(name) > MaxLockNameLen {
		return errors.New("lock name is longer than 256 bytes")
	}
	for rest := name; ; {
		c, after, more := strings.Cut(rest, "/")
		if err := validComponent(c); err != nil {
			return err
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// ValidLockComponent reports why c is not one lock-name component (1 to
// 64 of letters, digits, '.', '_', '-'; not "." or ".."), or nil: what an
// owner namespace, a static user name and a group name must be.
func ValidLockComponent(c string) error { return validComponent(c) }

func validComponent(c string) error {
	switch {
	case c == "":
		return errors.New("lock name has an empty component (leading, trailing or double '/')")
	case len(c) > MaxLockComponentLen:
		return errors.New("lock name component is longer than 64 bytes")
	case c == "." || c == "..":
		return errors.New("lock name components '.' and '..' are not allowed")
	}
	for i := 0; i < len(c); i++ {
		if !nameByte(c[i]) {
			return errors.New("lock name may contain only letters, digits, '.', '_', '-' and '/'")
		}
	}
	return nil
}

func nameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '.' || b == '_' || b == '-'
}
