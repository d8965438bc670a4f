package tenancy

import (
	"errors"
	"strconv"
	"strings"

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
