package auth

import (
	"strings"

	"github.com/octostore/octostore/internal/state"
)

const (
	// tokenPrefix makes OctoStore tokens recognisable to secret scanners.
	tokenPrefix = "octo_"
	tokenBytes  = 32
	maxTokenLen = 512
)

// NewToken returns a fresh random bearer token (256 bits).
func NewToken() string {
	return tokenPrefix + random(tokenBytes)
}

// NewAdmin returns the command that creates the first-start admin with a
// fresh token, and that token.
func NewAdmin() (state.BootstrapAdmin, string) {
	token := NewToken()
	return state.BootstrapAdmin{ID: adminID, Login: AdminLogin, Hash: state.HashToken(token)}, token
}

// ReissueAdmin returns the command that gives the existing first-start
// admin a fresh token, and that token: the recovery of a lost admin token
// (octostore token issue-admin).
func ReissueAdmin() (state.ReissueAdmin, string) {
	token := NewToken()
	return state.ReissueAdmin{ID: adminID, Hash: state.HashToken(token)}, token
}

// BearerToken extracts the token from an Authorization header value. The
// scheme is case-insensitive (RFC 7235); anything malformed yields false.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimLeft(token, " ")
	if !validToken(token) {
		return "", false
	}
	return token, true
}
