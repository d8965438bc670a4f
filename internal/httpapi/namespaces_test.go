package httpapi_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/state"
)

type namespacesResp struct {
	Namespaces []struct {
		Name, Account string
		BoundAt       time.Time `json:"bound_at"`
	}
	NextAfter *string `json:"next_after"`
}

// bind binds namespaces as the first use under --tenancy isolated does.
func bind(t *testing.T, srv *server.Server, ns, account string) {
	t.Helper()
	if _, err := state.Outcome(srv.Node().Apply(t.Context(), state.BindNamespace{Namespace: ns, Account: account})); err != nil {
		t.Fatal(err)
	}
}

func listNamespaces(t *testing.T, c *apitest.Client, query string) namespacesResp {
	t.Helper()
	r := c.Do("GET", "/namespaces"+query, alice, nil)
	wantStatus(t, r, http.StatusOK)
	var l namespacesResp
	r.JSON(t, &l)
	return l
}

// TestNamespaces_AdminListsAndReleases: an administrator lists the
// bindings (paged, in name order, by account ID) and releases one, by
// any letter case; releasing it again is 404.
func TestNamespaces_AdminListsAndReleases(t *testing.T) {
	logs := &apitest.LogBuffer{}
	srv := apitest.StartServerWith(t, "", func(c *server.Config) {
		c.AdminUsers = []string{"alice"}
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	c := apitest.New(t, "http://"+srv.Addr())
	if l := listNamespaces(t, c, ""); len(l.Namespaces) != 0 || l.NextAfter != nil {
		t.Fatalf("no bindings yet: %+v", l)
	}
	before := time.Now()
	bind(t, srv, "octocat", state.AccountGitHubUser(583231))
	bind(t, srv, "acme", state.AccountGitHubOrg(9919))
	bind(t, srv, "zeta", state.AccountStaticUser("bob"))
	l := listNamespaces(t, c, "?limit=2")
	if len(l.Namespaces) != 2 || l.Namespaces[0].Name != "acme" || l.Namespaces[0].Account != "github-org:9919" ||
		l.Namespaces[1].Name != "octocat" || l.Namespaces[1].Account != "github-user:583231" ||
		l.Namespaces[0].BoundAt.Before(before.Add(-time.Second)) || l.NextAfter == nil || *l.NextAfter != "octocat" {
		t.Fatalf("first page %+v", l)
	}
	if l = listNamespaces(t, c, "?limit=2&after=octocat"); len(l.Namespaces) != 1 || l.Namespaces[0].Name != "zeta" || l.NextAfter != nil {
		t.Fatalf("second page %+v", l)
	}
	wantError(t, c.Raw("GET", "/namespaces?limit=0", alice, nil), http.StatusUnprocessableEntity, "validation_error")

	wantStatus(t, c.Do("DELETE", "/namespaces/ACME", alice, nil), http.StatusNoContent)
	if l = listNamespaces(t, c, ""); len(l.Namespaces) != 2 || l.Namespaces[0].Name != "octocat" {
		t.Fatalf("after the release %+v", l)
	}
	wantError(t, c.Do("DELETE", "/namespaces/acme", alice, nil), http.StatusNotFound, "namespace_not_found")
	if line := logLine(logs.String(), "namespace released"); !strings.Contains(line, "namespace=acme") || !strings.Contains(line, "by=alice") {
		t.Fatalf("release not logged: %q", line)
	}
	for _, bad := range []string{"a%2Fb", "bad%20name", strings.Repeat("x", 65), "%2E%2E"} {
		wantError(t, c.Raw("DELETE", "/namespaces/"+bad, alice, nil), http.StatusUnprocessableEntity, "validation_error")
	}
}

// TestNamespaces_OnlyAdministrators: a user who is not an administrator,
// a scoped token (even an administrator's) and an anonymous caller can
// neither list nor release, and the binding stays.
func TestNamespaces_OnlyAdministrators(t *testing.T) {
	srv := apitest.StartServerWith(t, "", func(c *server.Config) { c.AdminUsers = []string{"alice"} })
	c := apitest.New(t, "http://"+srv.Addr())
	bind(t, srv, "acme", state.AccountGitHubOrg(9919))
	scoped := createToken(t, c, "write", 0, "acme/").Token
	for _, tok := range []string{bob, scoped, ""} {
		code, status := "forbidden", http.StatusForbidden
		switch tok {
		case scoped:
			code = "token_scope"
		case "":
			code, status = "unauthorized", http.StatusUnauthorized
		}
		wantError(t, c.Do("GET", "/namespaces", tok, nil), status, code)
		wantError(t, c.Do("DELETE", "/namespaces/acme", tok, nil), status, code)
	}
	if l := listNamespaces(t, c, ""); len(l.Namespaces) != 1 {
		t.Fatalf("binding gone: %+v", l)
	}
}
