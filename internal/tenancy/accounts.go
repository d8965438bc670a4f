package tenancy

import (
	"errors"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// TODO(merge): these mirror the state API landing on main
// (state.NamespaceKey, state.Account*, state.ErrNamespaceOwnedByOther).

// ErrNamespaceOwnedByOther is an owner namespace bound to another account.
var ErrNamespaceOwnedByOther = errors.New("namespace is bound to another account")

// NamespaceKey is the binding key of an owner.
func NamespaceKey(ns string) string { return strings.ToLower(ns) }

// AccountStaticUser is a static user's account.
func AccountStaticUser(name string) string { return "user:" + name }

// AccountGroup is a static group's account.
func AccountGroup(name string) string { return "group:" + name }

// AccountGitHubUser is a GitHub account's.
func AccountGitHubUser(id int64) string { return "github-user:" + strconv.FormatInt(id, 10) }

// gitHubClaims are a GitHub user's claims.
func gitHubClaims(u state.User, now int64) []claim { return nil }

// unbound stands in for the state's bindings until they land.
type unbound struct{}

func (unbound) NamespaceAccount(string) (string, bool) { return "", false }
func (unbound) NamespacesOf(string) []string           { return nil }

// OwnersIn is Owners over the bindings of the replicated state.
func (p *Policy) OwnersIn(v state.View, u state.User, now int64) Owners {
	return p.Owners(unbound{}, u, now)
}

// OwnersOf is OwnersIn for the user with id, as v knows it now (a
// webhook's owner, a stream's user whose organizations may have changed).
// An unknown user owns nothing.
func (p *Policy) OwnersOf(v state.View, id uuid.UUID, now int64) Owners {
	if !p.Isolated() || p.admins[id] {
		return Owners{all: true}
	}
	for _, u := range v.Users() {
		if u.ID == id {
			return p.OwnersIn(v, u, now)
		}
	}
	return Owners{keys: map[string]verdict{}}
}
