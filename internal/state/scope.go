package state

import (
	"errors"
	"strings"
	"time"
)

// Access is what a token may do with the lock names its scope covers.
type Access uint8

// Token access levels. The zero value is an unscoped token (static,
// bootstrap, sign-in, rotated): everything its user may do.
const (
	AccessFull  Access = iota // unscoped
	AccessWrite               // lock status, lists, events, and acquire/renew/release/sessions
	AccessRead                // lock status, lists, events, blocking reads
)

// Limits of scoped tokens.
const (
	MaxTokenNameLen  = 64
	MaxTokenPrefixes = 16
	// MaxTokenTTL bounds an expiring token's lifetime (about ten years).
	MaxTokenTTL = 10 * 366 * 24 * time.Hour
)

// ErrTooManyTokens refuses a created token beyond MaxTokensPerUser:
// unlike a sign-in, which evicts the oldest, an explicit creation must not
// silently revoke a token some machine depends on.
var ErrTooManyTokens = errors.New("at most 50 tokens per user")

// Scoped reports whether t is limited to lock-name prefixes and an access
// level (a token made by POST /auth/tokens).
func (t Token) Scoped() bool { return t.Access != AccessFull }

// Allows reports whether t may act on the lock called name: read, or
// also write. An unscoped token may act on every name.
func (t Token) Allows(name string, write bool) bool {
	if !t.Scoped() {
		return true
	}
	if write && t.Access != AccessWrite {
		return false
	}
	return t.Covers(name)
}

// Covers reports whether every lock name starting with prefix lies within
// t's prefixes: what a scoped token may list.
func (t Token) Covers(prefix string) bool {
	if !t.Scoped() {
		return true
	}
	for _, p := range t.Prefixes {
		if strings.HasPrefix(prefix, p) {
			return true
		}
	}
	return false
}

// ExpiredAt reports whether t can no longer be used at now.
func (t Token) ExpiredAt(now int64) bool { return t.ExpiresAt != 0 && now >= t.ExpiresAt }

// ValidTokenPrefix reports why p cannot scope a token, or nil: 1 to 256
// bytes of what lock names are made of (letters, digits, '.', '_', '-',
// '/'), so that it can match names. It is a plain string prefix, as for
// GET /locks?prefix=: "acme/deploy" also covers "acme/deployer"; end it
// with '/' to mean one subtree.
func ValidTokenPrefix(p string) error {
	if p == "" || len(p) > MaxLockNameLen {
		return errors.New("a prefix has 1 to 256 bytes")
	}
	for i := 0; i < len(p); i++ {
		if !nameByte(p[i]) && p[i] != '/' {
			return errors.New("a prefix may contain only letters, digits, '.', '_', '-' and '/'")
		}
	}
	return nil
}
