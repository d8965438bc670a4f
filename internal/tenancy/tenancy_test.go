package tenancy

import (
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
)

// fakeBindings is the replicated bindings table, by namespace key.
type fakeBindings map[string]string

func (f fakeBindings) NamespaceAccount(ns string) (string, bool) { a, ok := f[ns]; return a, ok }

func (f fakeBindings) NamespacesOf(account string) []string {
	var out []string
	for ns, a := range f {
		if a == account {
			out = append(out, ns)
		}
	}
	return out
}

func static(login string) state.User { return state.User{ID: auth.StaticUserID(login), Login: login} }

var groups = Groups{"ops": {"alice", "carol"}, "alice": {"alice"}}

func isolated(admins ...uuid.UUID) *Policy { return NewPolicy(Isolated, groups, admins) }

func TestOwners_SharedAndAdminsAreUnconfined(t *testing.T) {
	alice := static("alice")
	for _, p := range []*Policy{nil, NewPolicy(Shared, groups, nil), isolated(alice.ID)} {
		o := p.Owners(fakeBindings{}, alice, 0)
		if o.Confined() {
			t.Fatalf("%v: confined", p)
		}
		if b, err := o.Check("bob/x"); err != nil || b != (Binding{}) {
			t.Fatalf("check: %v %v", b, err)
		}
	}
}

func TestOwners_StaticUserAndGroups(t *testing.T) {
	o := isolated().Owners(fakeBindings{}, static("alice"), 0)
	if got := o.Mine(); !reflect.DeepEqual(got, []string{"alice", "ops"}) {
		t.Fatalf("mine %v", got)
	}
	for name, want := range map[string]Binding{
		"alice/deploy": {"alice", "user:alice"}, // own name first, though a group is called alike
		"alice":        {"alice", "user:alice"},
		"ops/db":       {"ops", "group:ops"},
	} {
		if b, err := o.Check(name); err != nil || b != want {
			t.Errorf("%s: %v %v, want %v", name, b, err, want)
		}
	}
	for _, name := range []string{"bob/x", "bob", "alicex/y", "opsx"} {
		if _, err := o.Check(name); !errors.Is(err, ErrForbiddenNamespace) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := isolated().Owners(fakeBindings{}, static("bob"), 0).Check("ops/db"); !errors.Is(err, ErrForbiddenNamespace) {
		t.Errorf("bob is not in ops: %v", err)
	}
}

// An owner is written as its key: "Alice/x" would be a second lock of the
// same owner next to "alice/x".
func TestOwners_OwnerIsLowercase(t *testing.T) {
	o := isolated().Owners(fakeBindings{}, static("Alice"), 0)
	if b, err := o.Check("alice/x"); err != nil || b.Namespace != "alice" || b.Account != "user:Alice" {
		t.Fatalf("alice/x: %v %v", b, err)
	}
	if _, err := o.Check("Alice/x"); !errors.Is(err, ErrForbiddenNamespace) {
		t.Fatalf("Alice/x: %v", err)
	}
}

func TestOwners_Bindings(t *testing.T) {
	b := fakeBindings{"alice": "user:alice", "ops": "github-org:7", "old-name": "user:alice"}
	o := isolated().Owners(b, static("alice"), 0)
	if got, err := o.Check("alice/x"); err != nil || got != (Binding{}) {
		t.Fatalf("bound to alice: %v %v", got, err)
	}
	if _, err := o.Check("ops/x"); !errors.Is(err, state.ErrNamespaceOwnedByOther) {
		t.Fatalf("ops bound to an org: %v", err)
	}
	if _, err := o.Check("old-name/x"); err != nil {
		t.Fatalf("a namespace bound to alice's account stays hers: %v", err)
	}
	if o.Reads("ops/x") || !o.Reads("old-name/x") {
		t.Fatal("reads")
	}
}

func TestOwners_Spans(t *testing.T) {
	o := isolated().Owners(fakeBindings{}, static("alice"), 0)
	for prefix, want := range map[string][]Span{
		"":          {{Exact: "alice"}, {Prefix: "alice/"}, {Exact: "ops"}, {Prefix: "ops/"}},
		"a":         {{Exact: "alice"}, {Prefix: "alice/"}},
		"alice":     {{Exact: "alice"}, {Prefix: "alice/"}},
		"alice/":    {{Prefix: "alice/"}},
		"alice/dep": {{Prefix: "alice/dep"}},
	} {
		got, err := o.Spans(prefix)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v %v, want %v", prefix, got, err, want)
		}
	}
	for _, prefix := range []string{"b", "bob/", "alicex", "Alice/"} {
		if _, err := o.Spans(prefix); !errors.Is(err, ErrForbiddenNamespace) {
			t.Errorf("%q: %v", prefix, err)
		}
	}
	if got, err := isolated().Owners(fakeBindings{}, state.User{ID: uuid.New(), Login: "nobody"}, 0).Spans(""); err != nil || len(got) != 0 {
		t.Fatalf("no namespace: %v %v", got, err)
	}
}

// Spans come in name order even when one owner's name is a prefix of
// another's: "a-b/..." sorts between "a" and "a/...".
func TestOwners_SpansInNameOrder(t *testing.T) {
	o := NewPolicy(Isolated, Groups{"a": {"u"}, "a-b": {"u"}}, nil).Owners(fakeBindings{}, static("u"), 0)
	got, _ := o.Spans("")
	want := []Span{{Exact: "a"}, {Exact: "a-b"}, {Prefix: "a-b/"}, {Prefix: "a/"}, {Exact: "u"}, {Prefix: "u/"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

func TestParseGroups(t *testing.T) {
	g, err := ParseGroups("# teams\nops: alice, carol\n\nops: dave,alice\nempty:\n")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, Groups{"ops": {"alice", "carol", "dave"}, "empty": {}}) {
		t.Fatalf("%v", g)
	}
	if got := g.Of("carol"); !reflect.DeepEqual(got, []string{"ops"}) {
		t.Fatalf("of %v", got)
	}
	for _, bad := range []string{"ops alice", "a/b: alice", ": alice", "ops: al ice", "ops: a/b", "..: alice"} {
		if _, err := ParseGroups(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]Mode{"shared": Shared, "isolated": Isolated} {
		if m, err := ParseMode(s); err != nil || m != want || m.String() != s {
			t.Errorf("%s: %v %v", s, m, err)
		}
	}
	if _, err := ParseMode("Isolated"); err == nil {
		t.Error("Isolated accepted")
	}
}

const hour = int64(3600e9)

func gitHubUser(id int64, login string, checkedAt int64, orgs ...state.Org) state.User {
	return state.User{ID: uuid.New(), Login: login, GitHubID: id, Orgs: orgs, OrgsCheckedAt: checkedAt}
}

var acme = state.Org{ID: 42, Login: "Acme"}

// TestOwners_GitHub: a GitHub user owns its login and its organizations,
// the latter only while GitHub's answer is at most a day old.
func TestOwners_GitHub(t *testing.T) {
	now := 100 * hour
	fresh := isolated().Owners(fakeBindings{}, gitHubUser(7, "Octocat", now-23*hour, acme), now)
	if got := fresh.Mine(); !reflect.DeepEqual(got, []string{"acme", "octocat"}) {
		t.Fatalf("mine %v", got)
	}
	if b, err := fresh.Check("acme/deploy"); err != nil || b != (Binding{"acme", "github-org:42"}) {
		t.Fatalf("acme: %v %v", b, err)
	}
	if b, err := fresh.Check("octocat/x"); err != nil || b != (Binding{"octocat", "github-user:7"}) {
		t.Fatalf("octocat: %v %v", b, err)
	}
	for _, checked := range []int64{now - 24*hour, now - 25*hour, 0} {
		stale := isolated().Owners(fakeBindings{}, gitHubUser(7, "octocat", checked, acme), now)
		if _, err := stale.Check("acme/deploy"); !errors.Is(err, ErrForbiddenNamespace) {
			t.Errorf("orgs checked at %d: %v", checked, err)
		}
	}
}

// TestOwners_RenamedAccounts: owners follow account IDs, not logins. A
// renamed user keeps the namespace it bound; whoever takes its old login
// gets namespace_owned_by_other_account there; a renamed organization
// keeps its old name's namespace.
func TestOwners_RenamedAccounts(t *testing.T) {
	now := 100 * hour
	b := fakeBindings{"octocat": "github-user:7", "acme": "github-org:42"}
	renamed := isolated().Owners(b, gitHubUser(7, "octo-renamed", now, state.Org{ID: 42, Login: "acme-inc"}), now)
	if got := renamed.Mine(); !reflect.DeepEqual(got, []string{"acme", "acme-inc", "octo-renamed", "octocat"}) {
		t.Fatalf("mine %v", got)
	}
	if bind, err := renamed.Check("octocat/x"); err != nil || bind != (Binding{}) {
		t.Fatalf("old login: %v %v", bind, err)
	}
	squatter := isolated().Owners(b, gitHubUser(8, "octocat", now, state.Org{ID: 99, Login: "acme"}), now)
	for _, name := range []string{"octocat/x", "acme/deploy"} {
		if _, err := squatter.Check(name); !errors.Is(err, state.ErrNamespaceOwnedByOther) {
			t.Errorf("%s: %v", name, err)
		}
		if squatter.Reads(name) {
			t.Errorf("%s readable", name)
		}
	}
	if spans, _ := squatter.Spans(""); len(spans) != 0 {
		t.Fatalf("the squatter lists %v", spans)
	}
}
