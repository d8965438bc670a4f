package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/tenancy"
)

// TestTenancyFlags_Resolve: shared stays the default; admitting every
// GitHub account defaults to isolated, and sharing one namespace among
// them must be asked for by name.
func TestTenancyFlags_Resolve(t *testing.T) {
	for _, tc := range []struct {
		flags    tenancyFlags
		allowAny bool
		want     tenancy.Mode
		err      string
	}{
		{tenancyFlags{}, false, tenancy.Shared, ""},
		{tenancyFlags{}, true, tenancy.Isolated, ""},
		{tenancyFlags{mode: "isolated"}, false, tenancy.Isolated, ""},
		{tenancyFlags{mode: "isolated", groupsFile: "g"}, false, tenancy.Isolated, ""},
		{tenancyFlags{anyShared: true}, true, tenancy.Shared, ""},
		{tenancyFlags{mode: "shared", anyShared: true}, true, tenancy.Shared, ""},
		{tenancyFlags{mode: "shared"}, true, 0, "--github-allow-any-user-shared"},
		{tenancyFlags{anyShared: true}, false, 0, "goes with --github-allow-any-user"},
		{tenancyFlags{groupsFile: "g"}, false, 0, "only --tenancy isolated"},
		{tenancyFlags{mode: "private"}, false, 0, "--tenancy must be shared or isolated"},
	} {
		got, err := tc.flags.resolve(tc.allowAny)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%+v any=%v: %v, want an error saying %q", tc.flags, tc.allowAny, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%+v any=%v: %v %v, want %v", tc.flags, tc.allowAny, got, err, tc.want)
		}
	}
}

// TestServe_SharedPublicServiceRefused: serve stops before listening when
// every GitHub account would share one lock namespace by accident, also
// when the mode comes from the environment.
func TestServe_SharedPublicServiceRefused(t *testing.T) {
	t.Setenv("OCTOSTORE_TENANCY", "shared")
	var errb bytes.Buffer
	args := []string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--github-client-id", "id",
		"--github-client-secret", "secret", "--github-allow-any-user"}
	if code := run(args, &bytes.Buffer{}, &errb); code != exitUsage || !strings.Contains(errb.String(), "--github-allow-any-user-shared") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
