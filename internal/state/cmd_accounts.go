package state

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// The commands of GitHub accounts and owner namespaces, each with its
// codec, limits and apply rule.

// Limits of recorded GitHub accounts and namespace bindings.
const (
	// MaxOrgs bounds the organizations recorded for one user: GitHub's
	// /user/orgs is read at most 10 pages of 100.
	MaxOrgs = 1000
	// MaxGrantLen bounds a stored GitHub access token (GitHub's are 40 to
	// about 100 bytes).
	MaxGrantLen = 255
	// MaxAccountLen bounds an account name (AccountGitHubUser and kin).
	MaxAccountLen = 16 + MaxLoginLen
)

// RecordGitHubAccount records what GitHub said about a signed-in user: it
// creates the user or renames it (same ID: a renamed account keeps its
// locks), and stores its GitHub ID and organizations, checked at the
// batch's time. Grant is the user's GitHub access token, kept so that any
// leader can ask GitHub again; "" keeps the stored one, ClearGrant drops
// it (GitHub said the grant is revoked).
type RecordGitHubAccount struct {
	UserID     uuid.UUID
	Login      string
	GitHubID   int64
	Orgs       []Org
	Grant      string
	ClearGrant bool
}

func (RecordGitHubAccount) kind() kind { return kindRecordGitHubAccount }

func (c RecordGitHubAccount) encode(e *encoder) {
	e.id(c.UserID)
	e.str(c.Login)
	e.varint(c.GitHubID)
	encodeOrgs(e, c.Orgs)
	e.str(c.Grant)
	e.bool(c.ClearGrant)
}

func (RecordGitHubAccount) decode(d *decoder) Command {
	c := RecordGitHubAccount{UserID: d.id(), Login: d.str(MaxLoginLen), GitHubID: d.varint()}
	c.Orgs = decodeOrgs(d)
	c.Grant, c.ClearGrant = d.str(MaxGrantLen), d.bool()
	return c
}

var errAccount = errors.New("bad account")

func (c RecordGitHubAccount) validate() error {
	grant := check(len(c.Grant) <= MaxGrantLen && printableASCII(c.Grant) && !(c.ClearGrant && c.Grant != ""), errAccount)
	return firstErr(idErr(c.UserID), loginErr(c.Login), check(c.GitHubID > 0, errAccount), orgsErr(c.Orgs), grant)
}

func (c RecordGitHubAccount) apply(s *State, now int64, _ time.Duration) Result {
	return s.recordGitHubAccount(now, c)
}

func encodeOrgs(e *encoder, orgs []Org) {
	e.uvarint(uint64(len(orgs)))
	for _, o := range orgs {
		e.varint(o.ID)
		e.str(o.Login)
	}
}

func decodeOrgs(d *decoder) []Org {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	orgs := make([]Org, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		orgs = append(orgs, Org{ID: d.varint(), Login: d.str(MaxLoginLen)})
	}
	return orgs
}

func orgsErr(orgs []Org) error {
	if len(orgs) > MaxOrgs {
		return errAccount
	}
	for _, o := range orgs {
		if o.ID <= 0 || loginErr(o.Login) != nil {
			return errAccount
		}
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// BindNamespace binds an owner namespace (NamespaceKey of a lock name's
// first component) to the account that first used it. The first binding
// wins: the same account again changes nothing, another account is
// ErrNamespaceOwnedByOther.
type BindNamespace struct {
	Namespace string
	Account   string
}

func (BindNamespace) kind() kind { return kindBindNamespace }

func (c BindNamespace) encode(e *encoder) {
	e.str(c.Namespace)
	e.str(c.Account)
}

func (BindNamespace) decode(d *decoder) Command {
	return BindNamespace{Namespace: d.str(MaxLockComponentLen), Account: d.str(MaxAccountLen)}
}

func (c BindNamespace) validate() error {
	return firstErr(namespaceErr(c.Namespace), accountErr(c.Account))
}

func (c BindNamespace) apply(s *State, now int64, _ time.Duration) Result {
	return s.bindNamespace(now, c)
}

// ReleaseNamespace frees a binding (an administrator's decision, e.g.
// after a GitHub login changed hands). ErrNamespaceNotBound when there is
// none.
type ReleaseNamespace struct {
	Namespace string
}

func (ReleaseNamespace) kind() kind { return kindReleaseNamespace }

func (c ReleaseNamespace) encode(e *encoder) { e.str(c.Namespace) }

func (ReleaseNamespace) decode(d *decoder) Command {
	return ReleaseNamespace{Namespace: d.str(MaxLockComponentLen)}
}

func (c ReleaseNamespace) validate() error { return namespaceErr(c.Namespace) }

func (c ReleaseNamespace) apply(s *State, _ int64, _ time.Duration) Result {
	return s.releaseNamespace(c)
}
