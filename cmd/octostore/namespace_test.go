package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/state"
)

// TestNamespaceCLI_ListAndRelease: against a real server, an
// administrator lists the bindings (table and JSON) and releases one; a
// user who is not an administrator is refused with the permission exit
// code and changes nothing; releasing what is not bound fails.
func TestNamespaceCLI_ListAndRelease(t *testing.T) {
	srv := apitest.StartServerWith(t, "", func(c *server.Config) { c.AdminUsers = []string{"alice"} })
	url := "http://" + srv.Addr()
	for ns, account := range map[string]string{"acme": state.AccountGitHubOrg(9919), "octocat": state.AccountGitHubUser(583231)} {
		if _, err := state.Outcome(srv.Node().Apply(t.Context(), state.BindNamespace{Namespace: ns, Account: account})); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := cli(t, url, "namespace", "list")
	if code != 0 || !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "github-org:9919") || !strings.Contains(out, "octocat") {
		t.Fatalf("list: exit %d: %s%s", code, out, errs)
	}
	if code, _, errs = cli(t, url, "namespace", "release", "acme", "--token", apitest.BobToken); code != exitNoPerm || !strings.Contains(errs, "forbidden") {
		t.Fatalf("a non-administrator released: exit %d: %s", code, errs)
	}
	if code, out, errs = cli(t, url, "namespace", "release", "acme"); code != 0 || !strings.Contains(out, "released") {
		t.Fatalf("release: exit %d: %s%s", code, out, errs)
	}
	if code, _, errs = cli(t, url, "namespace", "release", "acme"); code != exitFailure || !strings.Contains(errs, "namespace_not_found") {
		t.Fatalf("released twice: exit %d: %s", code, errs)
	}
	code, out, errs = cli(t, url, "namespace", "list", "--json")
	var listed []struct{ Name, Account string }
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed) != 1 || listed[0].Name != "octocat" {
		t.Fatalf("list --json: exit %d %v: %s%s", code, err, out, errs)
	}
	if code, _, _ = cli(t, url, "namespace", "release"); code != exitUsage {
		t.Fatalf("release without a name: exit %d", code)
	}
}
