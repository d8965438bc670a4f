package httpapi

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

var tokenSources = map[state.TokenSource]string{
	state.SourceStatic: "static", state.SourceBootstrap: "bootstrap",
	state.SourceSignIn: "github", state.SourceRotated: "rotated", state.SourceCreated: "created",
}

var accessNames = map[state.Access]string{state.AccessFull: "full", state.AccessWrite: "write", state.AccessRead: "read"}

type tokenInfo struct {
	ID        string    `json:"id"`
	UserID    uuid.UUID `json:"user_id"`
	Login     string    `json:"login"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	Current   bool      `json:"current"`
	// Scope and expiry (additions); a token from the other sources is
	// "full" with no prefixes.
	Name     string   `json:"name"`
	Access   string   `json:"access"`
	Prefixes []string `json:"prefixes"`
	// ExpiresAt is null for a token that never expires; LastUsedAt is the
	// last recorded use, null before the first (see usage: at most an
	// hour old).
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// newTokenInfo describes t; current says whether the request used it.
func newTokenInfo(t state.Token, login string, current bool) tokenInfo {
	info := tokenInfo{ID: t.ID(), UserID: t.UserID, Login: login, Source: tokenSources[t.Source],
		CreatedAt: unixTime(t.CreatedAt), Current: current, Name: t.Name, Access: accessNames[t.Access],
		Prefixes: t.Prefixes, ExpiresAt: optionalTime(t.ExpiresAt), LastUsedAt: optionalTime(t.LastUsed)}
	if info.Prefixes == nil {
		info.Prefixes = []string{}
	}
	return info
}

// optionalTime is nil for 0, "never" or "not yet".
func optionalTime(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := unixTime(ns)
	return &t
}

type tokenList struct {
	Tokens []tokenInfo `json:"tokens"`
}

// handleListTokens lists the caller's tokens, or with ?all=true (admins
// only) everyone's. Tokens are named by their public ID, never shown.
func (a *API) handleListTokens(w http.ResponseWriter, r *request) {
	all := r.URL.Query().Get("all")
	if all != "" && all != "true" && all != "false" {
		a.writeError(w, r.Request, invalid("all must be true or false"))
		return
	}
	if all == "true" && !a.admins[r.user.ID] {
		a.writeError(w, r.Request, ErrForbidden)
		return
	}
	owner := r.user.ID
	if all == "true" {
		owner = uuid.Nil
	}
	resp := tokenList{Tokens: []tokenInfo{}}
	err := a.store.Read(r.Context(), false, func(s state.View, now int64) {
		for _, t := range s.Tokens(owner) {
			if !t.ExpiredAt(now) { // expired ones wait for the next sweep
				resp.Tokens = append(resp.Tokens, newTokenInfo(t, s.Login(t.UserID), t.Hash == r.token))
			}
		}
	})
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleRevokeToken revokes one of the caller's tokens; an admin may
// revoke anyone's. Another user's token is 404, as if it did not exist.
func (a *API) handleRevokeToken(w http.ResponseWriter, r *request) {
	var tok state.Token
	found := false
	err := a.store.Read(r.Context(), false, func(s state.View, _ int64) { tok, found = s.TokenByID(r.tokenID) })
	if err == nil && (!found || (tok.UserID != r.user.ID && !a.admins[r.user.ID])) {
		err = state.ErrTokenNotFound
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	cmd := state.RevokeToken{Hash: tok.Hash, UserID: r.user.ID}
	if a.admins[r.user.ID] {
		cmd.UserID = uuid.Nil
	}
	if _, ok := a.apply(w, r, cmd); ok {
		w.WriteHeader(http.StatusNoContent)
	}
}
