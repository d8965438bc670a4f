package tenancy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
)

// Mode is how a deployment shares its lock names.
type Mode uint8

// Tenancy modes.
const (
	// Shared is one trust domain: every user sees every lock name, and
	// may take any name that is free.
	Shared Mode = iota
	// Isolated confines each user to the names under its owners.
	Isolated
)

// ParseMode reads --tenancy.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "shared":
		return Shared, nil
	case "isolated":
		return Isolated, nil
	}
	return Shared, fmt.Errorf("tenancy must be shared or isolated, not %q", s)
}

func (m Mode) String() string {
	if m == Isolated {
		return "isolated"
	}
	return "shared"
}

// MaxOrgStaleness is how old GitHub's last answer about a user's
// organizations may get and still count: from then on (GitHub unreachable
// for a day, or a token unused since) org namespaces are not granted
// until a fresh answer comes.
const MaxOrgStaleness = 24 * time.Hour

// Sentinel errors; the HTTP layer answers both 403. Neither depends on
// whether the lock is held: they are decided before it is read.
var (
	// ErrForbiddenNamespace is a lock name whose owner (its first
	// component) is none of the caller's.
	ErrForbiddenNamespace = errors.New("lock name outside your namespaces")
)

// Bindings is what deciding ownership needs of the replicated state
// (state.View): which account an owner namespace is bound to, and which
// namespaces an account holds (a renamed user keeps its bound one).
type Bindings interface {
	NamespaceAccount(ns string) (account string, bound bool)
	NamespacesOf(account string) []string
}

// Policy is a deployment's tenancy: the mode, the static groups, and the
// administrators, who are never confined (like etcd's root).
type Policy struct {
	mode     Mode
	memberOf map[string][]string // user → its groups, sorted: the groups file, turned around once
	admins   map[uuid.UUID]bool
}

// NewPolicy returns the policy of mode with groups and admins.
func NewPolicy(mode Mode, groups Groups, admins []uuid.UUID) *Policy {
	p := &Policy{mode: mode, memberOf: map[string][]string{}, admins: map[uuid.UUID]bool{}}
	for _, members := range groups {
		for _, u := range members {
			if _, done := p.memberOf[u]; !done {
				p.memberOf[u] = groups.Of(u)
			}
		}
	}
	for _, id := range admins {
		p.admins[id] = true
	}
	return p
}

// Isolated reports whether p confines users to their owners. A nil
// policy is shared.
func (p *Policy) Isolated() bool { return p != nil && p.mode == Isolated }

// Owners returns what u may touch at now (unix nanoseconds), as the
// bindings in b say: everything in shared mode and for administrators.
func (p *Policy) Owners(b Bindings, u state.User, now int64) Owners {
	if !p.Isolated() || p.admins[u.ID] {
		return Owners{all: true}
	}
	o := Owners{keys: map[string]verdict{}}
	for _, c := range p.claims(b, u, now) {
		o.add(b, c)
	}
	return o
}

// claim is an owner namespace a user may use and the account through
// which it claims it.
type claim struct{ key, account string }

// claims lists u's claims, the most direct first: its own name, then its
// groups or organizations, then what its accounts have bound (a renamed
// user's old login, a renamed organization's old name).
func (p *Policy) claims(b Bindings, u state.User, now int64) []claim {
	var cs []claim
	if u.ID == auth.StaticUserID(u.Login) {
		cs = append(cs, claim{state.NamespaceKey(u.Login), state.AccountStaticUser(u.Login)})
		for _, g := range p.memberOf[u.Login] {
			cs = append(cs, claim{state.NamespaceKey(g), state.AccountGroup(g)})
		}
	}
	cs = append(cs, gitHubClaims(u, now)...)
	direct := len(cs)
	for _, c := range cs[:direct] {
		for _, ns := range b.NamespacesOf(c.account) {
			cs = append(cs, claim{state.NamespaceKey(ns), c.account})
		}
	}
	return cs
}

// verdict is the decision on one owner namespace.
type verdict struct {
	err  error  // nil: the user's
	bind string // the account to bind it to first; "" when bound already
}

// add decides c: the user's if unbound (to be bound to c's account) or
// bound to that account; another account's otherwise. A key claimed
// through several accounts (a user named like one of its groups) is the
// user's if any of them holds it, and is bound to the first.
func (o Owners) add(b Bindings, c claim) {
	if v, seen := o.keys[c.key]; seen && v.err == nil {
		return
	}
	switch bound, ok := b.NamespaceAccount(c.key); {
	case !ok:
		o.keys[c.key] = verdict{bind: c.account}
	case bound == c.account:
		o.keys[c.key] = verdict{}
	default:
		o.keys[c.key] = verdict{err: state.ErrNamespaceOwnedByOther}
	}
}

// Owners is what one user may touch.
type Owners struct {
	all  bool               // shared mode, or an administrator
	keys map[string]verdict // by namespace key
}

// Confined reports whether o limits the user to some namespaces.
func (o Owners) Confined() bool { return !o.all }

// Binding is an owner namespace to bind to an account before its first
// write.
type Binding struct{ Namespace, Account string }

// Check says whether the lock called name (a valid name) is within o, and
// which binding to propose before writing to it (zero when none is
// needed). An owner is written as its key (lowercase): "Acme/x" and
// "acme/x" would be two locks of one team, which is a trap, and lists by
// owner would have to scan every case.
func (o Owners) Check(name string) (Binding, error) {
	if o.all {
		return Binding{}, nil
	}
	owner, _, _ := strings.Cut(name, "/")
	if key := state.NamespaceKey(owner); key != owner {
		if _, claimed := o.keys[key]; claimed {
			return Binding{}, fmt.Errorf("%w: an owner is written in lowercase: %s/", ErrForbiddenNamespace, key)
		}
		return Binding{}, o.forbidden()
	}
	v, ok := o.keys[owner]
	switch {
	case !ok:
		return Binding{}, o.forbidden()
	case v.err != nil:
		return Binding{}, fmt.Errorf("%w: %s", v.err, owner)
	case v.bind != "":
		return Binding{Namespace: owner, Account: v.bind}, nil
	}
	return Binding{}, nil
}

// forbidden names the caller's own namespaces, to help: they are its
// own, and say nothing of anyone else's.
func (o Owners) forbidden() error {
	mine := o.Mine()
	if len(mine) == 0 {
		return fmt.Errorf("%w: you have no namespace", ErrForbiddenNamespace)
	}
	return fmt.Errorf("%w: a lock name begins with one of yours: %s/", ErrForbiddenNamespace, strings.Join(mine, "/, "))
}

// Mine lists the namespaces o allows, sorted.
func (o Owners) Mine() []string {
	var out []string
	for k, v := range o.keys {
		if v.err == nil {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Reads reports whether the user may see the lock called name (its
// status, its events).
func (o Owners) Reads(name string) bool {
	if o.all {
		return true
	}
	// Check's rule without its refusal message: streams and webhooks ask
	// this for every event, most of them other tenants'. Keys are lower
	// case, so an owner written otherwise matches none, as Check refuses.
	owner, _, _ := strings.Cut(name, "/")
	v, ok := o.keys[owner]
	return ok && v.err == nil
}

// Span is a part of the lock names that lies within one owner: the name
// Exact (the owner alone) or every name starting with Prefix.
type Span struct {
	Exact  string
	Prefix string
}

// Spans is where names under prefix that the user may read lie: disjoint
// spans in name order, so listing them one after another lists in name
// order. A prefix no readable name starts with is ErrForbiddenNamespace;
// an empty prefix lists every namespace of the user (none, for a user
// without any). Unconfined owners get the prefix itself.
func (o Owners) Spans(prefix string) ([]Span, error) {
	if o.all {
		return []Span{{Prefix: prefix}}, nil
	}
	var spans []Span
	for _, k := range o.Mine() {
		if strings.HasPrefix(k, prefix) {
			spans = append(spans, Span{Exact: k})
		}
		switch under := k + "/"; {
		case strings.HasPrefix(prefix, under):
			spans = append(spans, Span{Prefix: prefix})
		case strings.HasPrefix(under, prefix):
			spans = append(spans, Span{Prefix: under})
		}
	}
	if len(spans) == 0 && prefix != "" {
		return nil, o.forbidden()
	}
	slices.SortFunc(spans, func(a, b Span) int { return strings.Compare(a.start(), b.start()) })
	return spans, nil
}

func (s Span) start() string { return s.Exact + s.Prefix }
