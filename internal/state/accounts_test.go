package state

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

var octo = uuid.MustParse("00000000-0000-4000-8000-0000000c7ca7")

func TestState_RecordGitHubAccount(t *testing.T) {
	t.Run("CreatesTheUserWithSortedOrgs", func(t *testing.T) {
		s := New()
		mustApply(t, s, at(time.Second), RecordGitHubAccount{UserID: octo, Login: "octocat", GitHubID: 583231,
			Orgs: []Org{{ID: 9, Login: "acme"}, {ID: 2, Login: "beta"}, {ID: 9, Login: "acme"}}, Grant: "gho_1"})
		u, ok := s.User(octo)
		want := User{ID: octo, Login: "octocat", CreatedAt: at(time.Second), GitHubID: 583231,
			Orgs: []Org{{ID: 2, Login: "beta"}, {ID: 9, Login: "acme"}}, OrgsCheckedAt: at(time.Second)}
		if !ok || !reflect.DeepEqual(u, want) {
			t.Fatalf("user = %+v, want %+v", u, want)
		}
		if g := s.GitHubGrant(octo); g != "gho_1" {
			t.Fatalf("grant = %q", g)
		}
	})
	t.Run("RenameKeepsTheUserAndAnEmptyGrantKeepsTheStoredOne", func(t *testing.T) {
		s := New()
		mustApply(t, s, at(0), RecordGitHubAccount{UserID: octo, Login: "octocat", GitHubID: 7, Orgs: []Org{{ID: 9, Login: "acme"}}, Grant: "gho_1"})
		mustApply(t, s, at(time.Hour), RecordGitHubAccount{UserID: octo, Login: "monalisa", GitHubID: 7})
		u, _ := s.User(octo)
		if u.Login != "monalisa" || u.CreatedAt != at(0) || len(u.Orgs) != 0 || u.OrgsCheckedAt != at(time.Hour) {
			t.Fatalf("after rename: %+v", u)
		}
		if g := s.GitHubGrant(octo); g != "gho_1" {
			t.Fatalf("grant = %q, want the stored one", g)
		}
	})
	t.Run("ClearGrant", func(t *testing.T) {
		s := New()
		mustApply(t, s, at(0), RecordGitHubAccount{UserID: octo, Login: "octocat", GitHubID: 7, Grant: "gho_1"})
		mustApply(t, s, at(time.Second), RecordGitHubAccount{UserID: octo, Login: "octocat", GitHubID: 7, ClearGrant: true})
		if g := s.GitHubGrant(octo); g != "" {
			t.Fatalf("grant = %q after ClearGrant", g)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, c := range []RecordGitHubAccount{
			{UserID: octo, Login: "octocat"},                                            // no GitHub ID
			{UserID: octo, Login: "octocat", GitHubID: 7, Grant: "a b"},                 // not a token
			{UserID: octo, Login: "octocat", GitHubID: 7, Grant: "x", ClearGrant: true}, // both
			{UserID: octo, Login: "octocat", GitHubID: 7, Orgs: []Org{{ID: 0, Login: "acme"}}},
			{UserID: uuid.Nil, Login: "octocat", GitHubID: 7},
		} {
			if err := Validate(c); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("%+v: %v, want ErrInvalidCommand", c, err)
			}
		}
	})
}

func TestState_Namespaces(t *testing.T) {
	alicesAccount, other := AccountGitHubUser(1), AccountGitHubUser(2)
	t.Run("FirstBindingWins", func(t *testing.T) {
		s := New()
		mustApply(t, s, at(0), BindNamespace{Namespace: "alice", Account: alicesAccount})
		mustApply(t, s, at(time.Second), BindNamespace{Namespace: "alice", Account: alicesAccount}) // again: no change
		if r := applyAt(s, at(2*time.Second), BindNamespace{Namespace: "alice", Account: other}); !errors.Is(r.Err, ErrNamespaceOwnedByOther) {
			t.Fatalf("another account: %v, want ErrNamespaceOwnedByOther", r.Err)
		}
		if a, ok := s.NamespaceAccount("alice"); !ok || a != alicesAccount {
			t.Fatalf("bound to %q, %v", a, ok)
		}
		if got := s.Namespaces("", 0); !reflect.DeepEqual(got, []NamespaceBinding{{Namespace: "alice", Account: alicesAccount, BoundAt: at(0)}}) {
			t.Fatalf("Namespaces = %+v", got)
		}
	})
	t.Run("OfAnAccountAndPaged", func(t *testing.T) {
		s := New()
		for _, ns := range []string{"c", "a", "b"} {
			mustApply(t, s, at(0), BindNamespace{Namespace: ns, Account: alicesAccount})
		}
		mustApply(t, s, at(0), BindNamespace{Namespace: "d", Account: other})
		if got := s.NamespacesOf(alicesAccount); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
			t.Fatalf("NamespacesOf = %v", got)
		}
		page := s.Namespaces("a", 2)
		if len(page) != 2 || page[0].Namespace != "b" || page[1].Namespace != "c" {
			t.Fatalf("page after a = %+v", page)
		}
	})
	t.Run("Release", func(t *testing.T) {
		s := New()
		mustApply(t, s, at(0), BindNamespace{Namespace: "alice", Account: alicesAccount})
		mustApply(t, s, at(time.Second), ReleaseNamespace{Namespace: "alice"})
		if r := applyAt(s, at(2*time.Second), ReleaseNamespace{Namespace: "alice"}); !errors.Is(r.Err, ErrNamespaceNotBound) {
			t.Fatalf("released twice: %v, want ErrNamespaceNotBound", r.Err)
		}
		if got := s.NamespacesOf(alicesAccount); len(got) != 0 {
			t.Fatalf("NamespacesOf after release = %v", got)
		}
		mustApply(t, s, at(3*time.Second), BindNamespace{Namespace: "alice", Account: other}) // free for the next account
	})
	t.Run("Invalid", func(t *testing.T) {
		for _, c := range []Command{
			BindNamespace{Namespace: "Alice", Account: alicesAccount}, // not in key form
			BindNamespace{Namespace: "a/b", Account: alicesAccount},
			BindNamespace{Namespace: "alice", Account: "github-user:01"},
			BindNamespace{Namespace: "alice", Account: "github-org:-3"},
			BindNamespace{Namespace: "alice", Account: "root:x"},
			BindNamespace{Namespace: "alice", Account: "user:"},
			ReleaseNamespace{Namespace: ".."},
		} {
			if err := Validate(c); !errors.Is(err, ErrInvalidCommand) {
				t.Errorf("%+v: %v, want ErrInvalidCommand", c, err)
			}
		}
	})
}

// TestSnapshot_AccountsAndNamespaces: accounts, grants and bindings
// survive a snapshot, and the derived index is rebuilt.
func TestSnapshot_AccountsAndNamespaces(t *testing.T) {
	s := newState(t)
	mustApply(t, s, at(0), RecordGitHubAccount{UserID: octo, Login: "octocat", GitHubID: 7, Orgs: []Org{{ID: 9, Login: "acme"}}, Grant: "gho_1"})
	mustApply(t, s, at(0), BindNamespace{Namespace: "octocat", Account: AccountGitHubUser(7)})
	mustApply(t, s, at(0), BindNamespace{Namespace: "acme", Account: AccountGitHubOrg(9)})
	data := snapshotBytes(t, s)
	r, err := Restore(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snapshotBytes(t, r), data) {
		t.Fatal("restored state snapshots differently")
	}
	u, _ := r.User(octo)
	if u.GitHubID != 7 || len(u.Orgs) != 1 || r.GitHubGrant(octo) != "gho_1" {
		t.Fatalf("restored user %+v, grant %q", u, r.GitHubGrant(octo))
	}
	if got := r.NamespacesOf(AccountGitHubOrg(9)); !reflect.DeepEqual(got, []string{"acme"}) {
		t.Fatalf("restored NamespacesOf = %v", got)
	}
}
