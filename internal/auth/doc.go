// Package auth owns identity: the operator's static users and tokens, the
// generation of new bearer tokens, the first-start admin, and the parsing
// of Authorization headers. Tokens leave this package only as SHA-256
// digests (state.TokenHash); the raw value is shown to its owner once.
package auth
