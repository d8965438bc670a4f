package state

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Errors of owner namespaces.
var (
	// ErrNamespaceOwnedByOther refuses binding a namespace that another
	// account already holds: a GitHub login renamed and taken by someone
	// else does not inherit the old owner's namespace.
	ErrNamespaceOwnedByOther = errors.New("namespace is bound to another account")
	// ErrNamespaceNotBound: there is no binding to release.
	ErrNamespaceNotBound = errors.New("namespace is not bound")
)

// NamespaceBinding says which account an owner namespace belongs to.
type NamespaceBinding struct {
	Namespace string // NamespaceKey form
	Account   string // AccountGitHubUser and kin
	BoundAt   int64  // unix nanoseconds
}

// NamespaceKey is the key of an owner namespace (a lock name's first
// component): lower case, because GitHub logins are case-insensitive and
// "Alice" and "alice" are one owner.
func NamespaceKey(ns string) string { return strings.ToLower(ns) }

// Accounts are what a namespace is bound to: a GitHub account or
// organization by its numeric ID, which survives renames; a static user or
// group by its configured name, which is the operator's to change.

// AccountGitHubUser names the GitHub user account with that numeric ID.
func AccountGitHubUser(id int64) string { return "github-user:" + strconv.FormatInt(id, 10) }

// AccountGitHubOrg names the GitHub organization with that numeric ID.
func AccountGitHubOrg(id int64) string { return "github-org:" + strconv.FormatInt(id, 10) }

// AccountStaticUser names a user configured with a static token.
func AccountStaticUser(name string) string { return "user:" + name }

// AccountGroup names a group of static users (--groups-file).
func AccountGroup(name string) string { return "group:" + name }

var errNamespace = errors.New("bad namespace")

// namespaceErr: a namespace is a valid lock-name component in key form.
func namespaceErr(ns string) error {
	return check(validComponent(ns) == nil && ns == NamespaceKey(ns), errNamespace)
}

func accountErr(a string) error {
	kind, rest, ok := strings.Cut(a, ":")
	if !ok || rest == "" || len(a) > MaxAccountLen || !printableASCII(a) {
		return errAccount
	}
	switch kind {
	case "github-user", "github-org":
		id, err := strconv.ParseInt(rest, 10, 64)
		return check(err == nil && id > 0 && strconv.FormatInt(id, 10) == rest, errAccount)
	case "user", "group":
		return nil
	}
	return errAccount
}

func (s *State) recordGitHubAccount(now int64, c RecordGitHubAccount) Result {
	s.putUser(now, c.UserID, c.Login)
	nu := *s.users[c.UserID] // records are replaced, never changed in place: a snapshot may hold the old one
	nu.GitHubID, nu.OrgsCheckedAt = c.GitHubID, now
	nu.Orgs = slices.Clone(c.Orgs)
	slices.SortFunc(nu.Orgs, func(a, b Org) int { return cmp.Compare(a.ID, b.ID) })
	nu.Orgs = slices.CompactFunc(nu.Orgs, func(a, b Org) bool { return a.ID == b.ID })
	s.users[c.UserID] = &nu
	switch {
	case c.ClearGrant:
		delete(s.grants, c.UserID)
	case c.Grant != "":
		s.grants[c.UserID] = c.Grant
	}
	return Result{}
}

func (s *State) bindNamespace(now int64, c BindNamespace) Result {
	if b, ok := s.namespaces[c.Namespace]; ok {
		return Result{Err: check(b.Account == c.Account, ErrNamespaceOwnedByOther)}
	}
	s.putBinding(NamespaceBinding{Namespace: c.Namespace, Account: c.Account, BoundAt: now})
	return Result{}
}

func (s *State) putBinding(b NamespaceBinding) {
	s.namespaces[b.Namespace] = b
	of := s.nsByAccount[b.Account]
	if of == nil {
		of = make(map[string]struct{})
		s.nsByAccount[b.Account] = of
	}
	of[b.Namespace] = struct{}{}
}

func (s *State) releaseNamespace(c ReleaseNamespace) Result {
	b, ok := s.namespaces[c.Namespace]
	if !ok {
		return Result{Err: ErrNamespaceNotBound}
	}
	delete(s.namespaces, c.Namespace)
	if delete(s.nsByAccount[b.Account], c.Namespace); len(s.nsByAccount[b.Account]) == 0 {
		delete(s.nsByAccount, b.Account)
	}
	return Result{}
}

// User returns the user with id.
func (s *State) User(id uuid.UUID) (User, bool) {
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// GitHubGrant is the stored GitHub access token of a user, or "": only
// for asking GitHub again, never for an answer to a client.
func (s *State) GitHubGrant(id uuid.UUID) string { return s.grants[id] }

// NamespaceAccount says which account the namespace (key form) is bound
// to, if any.
func (s *State) NamespaceAccount(ns string) (string, bool) {
	b, ok := s.namespaces[ns]
	return b.Account, ok
}

// NamespacesOf lists, sorted, the namespaces bound to account.
func (s *State) NamespacesOf(account string) []string {
	out := make([]string, 0, len(s.nsByAccount[account]))
	for ns := range s.nsByAccount[account] {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// Namespaces lists bindings in namespace order, after the namespace
// after ("" from the start), at most limit of them (limit <= 0: all).
func (s *State) Namespaces(after string, limit int) []NamespaceBinding {
	out := make([]NamespaceBinding, 0)
	for _, b := range s.namespaces {
		if b.Namespace > after {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b NamespaceBinding) int { return strings.Compare(a.Namespace, b.Namespace) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
