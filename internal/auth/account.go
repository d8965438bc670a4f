package auth

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/octostore/octostore/internal/state"
)

// Org is a GitHub organization: its numeric ID never changes; its login
// can be renamed and then taken by another organization, which is why
// namespaces are bound to IDs. It is the state's type, recorded as is.
type Org = state.Org

// Grant is a GitHub OAuth access token: it acts on GitHub as its user
// (read:user, read:org), so it is a secret. Formatted with fmt or slog it
// shows "[redacted]"; string(g) is its value, for GitHub and the state
// only.
type Grant string

const redacted = "[redacted]"

// String hides the value from %v, %s and errors that format a Grant.
func (Grant) String() string { return redacted }

// GoString hides the value from %#v.
func (Grant) GoString() string { return strconv.Quote(redacted) }

// LogValue hides the value from slog.
func (Grant) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the value from encoders (JSON, YAML).
func (Grant) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Account reads the account grant acts for, and its organizations, from
// GitHub: at sign-in, and again to re-check a signed-in user. A grant
// GitHub refuses (401) is an ErrGrantRevoked; any other failure (a
// timeout, a 5xx, an unusable answer) is an ErrGitHub only, and says
// nothing about the grant.
func (g *GitHub) Account(ctx context.Context, grant Grant) (Identity, error) {
	id, err := g.user(ctx, grant)
	if err != nil {
		return Identity{}, err
	}
	if id.Orgs, err = g.orgs(ctx, grant); err != nil {
		return Identity{}, err
	}
	id.Grant = grant
	return id, nil
}

func (g *GitHub) user(ctx context.Context, grant Grant) (Identity, error) {
	var u struct {
		ID        int64  `json:"id"`
		Login     string `json:"login"`
		AvatarURL string `json:"avatar_url"`
	}
	if err := g.get(ctx, grant, "/user", &u); err != nil {
		return Identity{}, err
	}
	if u.ID <= 0 || !validLogin(u.Login) {
		return Identity{}, fmt.Errorf("%w: GitHub returned no usable account (id %d, login %q)", ErrGitHub, u.ID, u.Login)
	}
	return Identity{GitHubID: u.ID, Login: u.Login, AvatarURL: u.AvatarURL}, nil
}

// orgs reads every page of /user/orgs (up to maxOrgPages), sorted by ID
// without repeats. An organization without a usable ID or login fails
// the whole read: a partial list would silently drop a membership.
func (g *GitHub) orgs(ctx context.Context, grant Grant) ([]Org, error) {
	all := []Org{}
	for page := 1; page <= maxOrgPages; page++ {
		var orgs []struct {
			ID    int64  `json:"id"`
			Login string `json:"login"`
		}
		if err := g.get(ctx, grant, "/user/orgs?per_page=100&page="+strconv.Itoa(page), &orgs); err != nil {
			return nil, err
		}
		for _, o := range orgs {
			if o.ID <= 0 || !validLogin(o.Login) {
				return nil, fmt.Errorf("%w: GitHub returned an unusable organization (id %d, login %q)", ErrGitHub, o.ID, o.Login)
			}
			all = append(all, Org{ID: o.ID, Login: o.Login})
		}
		if len(orgs) < 100 {
			break
		}
	}
	slices.SortFunc(all, func(a, b Org) int { return cmp.Compare(a.ID, b.ID) })
	return slices.CompactFunc(all, func(a, b Org) bool { return a.ID == b.ID }), nil
}
