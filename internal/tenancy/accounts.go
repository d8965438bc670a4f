package tenancy

import (
	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// gitHubClaims are a GitHub account's claims: its login, and its
// organizations while GitHub's last answer about them is younger than
// MaxOrgStaleness at now.
func gitHubClaims(u state.User, now int64) []claim {
	if u.GitHubID == 0 {
		return nil
	}
	cs := []claim{{state.NamespaceKey(u.Login), state.AccountGitHubUser(u.GitHubID)}}
	if u.OrgsCheckedAt == 0 || now-u.OrgsCheckedAt >= int64(MaxOrgStaleness) {
		return cs
	}
	for _, o := range u.Orgs {
		cs = append(cs, claim{state.NamespaceKey(o.Login), state.AccountGitHubOrg(o.ID)})
	}
	return cs
}

// OwnersOf is Owners for the user with id as v knows it now (a
// webhook's owner; a stream's user, whose organizations may change while
// it lasts). An unknown user owns nothing.
func (p *Policy) OwnersOf(v state.View, id uuid.UUID, now int64) Owners {
	if !p.Isolated() || p.admins[id] {
		return Owners{all: true}
	}
	u, ok := v.User(id)
	if !ok {
		return Owners{keys: map[string]verdict{}}
	}
	return p.Owners(v, u, now)
}
