package httpapi

import (
	"errors"
	"net/http"

	"github.com/octostore/octostore/internal/state"
)

// ErrTokenScope refuses a request its scoped token does not cover: a lock
// name outside its prefixes, a write with a read token, or a route scoped
// tokens may not use at all (403 token_scope).
var ErrTokenScope = errors.New("token scope does not cover this request")

// scopeRule says what a scoped token (POST /auth/tokens) may do on a
// route. The zero value refuses scoped tokens, so a route added later is
// closed to them until someone decides otherwise.
type scopeRule uint8

const (
	scopeNone  scopeRule = iota // webhooks, tokens, cluster: unscoped tokens only
	scopeRead                   // lock status, list, events, a session's status; other methods than GET need write
	scopeWrite                  // acquire/renew/release, creating and ending sessions
)

// mayEndSession refuses a scoped token ending a session that holds a
// lock outside its prefixes: ending a session releases its locks, and a
// session is the user's, not the token's, so one taken with an unscoped
// token may hold anything. (A lock taken with the session between this
// check and the delete is released with it: the window is one request.)
func (a *API) mayEndSession(r *request) error {
	if !r.tok.Scoped() {
		return nil
	}
	allowed := true
	err := a.store.Read(r.Context(), false, func(s state.View, _ int64) {
		for _, key := range s.SessionLockNames(r.id) {
			allowed = allowed && r.tok.Allows(nameOfKey(key), true)
		}
	})
	if err == nil && !allowed {
		err = ErrTokenScope
	}
	return err
}

// checkScope refuses a scoped token outside its scope. Lock routes check
// the name against the prefixes; GET /locks needs a prefix within them
// (listing everything would show names outside); /events filters what it
// sends instead (eventStream.send), so it needs no prefix. Sessions carry
// no lock name: a write token may use them, and every lock it takes with
// one is still checked.
func (a *API) checkScope(rt *route, req *request) error {
	tok := req.tok
	if !tok.Scoped() {
		return nil
	}
	write := rt.scope == scopeWrite || req.Method != http.MethodGet && req.Method != http.MethodHead
	switch {
	case rt.scope == scopeNone, write && tok.Access != state.AccessWrite:
		return ErrTokenScope
	case req.name != "" && !tok.Allows(req.name, write):
		return ErrTokenScope
	case rt.lists && !tok.Covers(req.URL.Query().Get("prefix")):
		return ErrTokenScope
	}
	return nil
}
