package httpapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
)

// createTokenRequest is POST /auth/tokens.
type createTokenRequest struct {
	Name       *text        `json:"name"`
	Prefixes   []text       `json:"prefixes"`
	Access     *string      `json:"access"`
	TTLSeconds *wholeNumber `json:"ttl_seconds"`
}

// createTokenResponse shows the new token, once, with its description.
type createTokenResponse struct {
	Token string `json:"token"`
	tokenInfo
}

// handleCreateToken issues the caller a token limited to lock-name
// prefixes and an access level, optionally expiring. Only an unscoped
// token may create one (route scope none), so a scoped token can never
// mint a broader one; in isolated tenancy each prefix must also reach
// into the caller's own namespaces (creatorCovers).
func (a *API) handleCreateToken(w http.ResponseWriter, r *request) {
	var body createTokenRequest
	err := decodeJSON(r, &body, true)
	var cmd state.CreateToken
	if err == nil {
		cmd, err = tokenCommand(body)
	}
	if err == nil {
		err = a.creatorCovers(r, cmd.Prefixes)
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	token := auth.NewToken()
	cmd.Hash, cmd.UserID, cmd.Source = state.HashToken(token), r.user.ID, state.SourceCreated
	res, ok := a.apply(w, r, cmd)
	if !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createTokenResponse{Token: token, tokenInfo: newTokenInfo(res.Token, r.user.Login, false)})
}

// creatorCovers refuses, in isolated tenancy, a prefix under which the
// creator may read nothing (403 forbidden_namespace), by the rule GET
// /locks?prefix= follows: a token is never scoped to what its creator
// may not use. (The creator's owners are checked again at every use, so a
// token also loses what its creator loses later.)
func (a *API) creatorCovers(r *request, prefixes []string) error {
	if !a.tenancy.Isolated() {
		return nil
	}
	var err error
	rerr := a.store.Read(r.Context(), true, func(v state.View, now int64) {
		owners := a.tenancy.Owners(v, r.user, now)
		for _, p := range prefixes {
			if _, err = owners.Spans(p); err != nil {
				err = fmt.Errorf("prefix %q: %w", p, err)
				return
			}
		}
	})
	return firstError(rerr, err)
}

// tokenCommand validates the request into the command, less the token.
func tokenCommand(b createTokenRequest) (state.CreateToken, error) {
	var c state.CreateToken
	if b.Name == nil || *b.Name == "" || len(*b.Name) > state.MaxTokenNameLen {
		return c, invalid("name is required: 1 to %d bytes", state.MaxTokenNameLen)
	}
	c.Name = string(*b.Name)
	switch {
	case b.Access == nil:
		return c, invalid("access is required: read or write")
	case *b.Access == "read":
		c.Access = state.AccessRead
	case *b.Access == "write":
		c.Access = state.AccessWrite
	default:
		return c, invalid("access must be read or write")
	}
	if len(b.Prefixes) == 0 || len(b.Prefixes) > state.MaxTokenPrefixes {
		return c, invalid("prefixes is required: 1 to %d lock-name prefixes", state.MaxTokenPrefixes)
	}
	for _, p := range b.Prefixes {
		if err := state.ValidTokenPrefix(string(p)); err != nil {
			return c, invalid("invalid prefix %q: %v", string(p), err)
		}
		c.Prefixes = append(c.Prefixes, string(p))
	}
	if b.TTLSeconds != nil {
		ttl, err := seconds(*b.TTLSeconds, time.Second, state.MaxTokenTTL, "ttl_seconds must be between 1 and 316224000 (about ten years); leave it out for a token that never expires")
		if err != nil {
			return c, err
		}
		c.TTL = ttl
	}
	return c, nil
}
