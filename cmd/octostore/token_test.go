package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/state"
)

func TestTokenCLI_ListAndRevoke(t *testing.T) {
	p := startServe(t, []string{"OCTOSTORE_TOKENS=tester:" + token + ",tester:second-token-0123456789"}, "--data-dir", t.TempDir())
	var out, errb bytes.Buffer
	if code := run([]string{"token", "list", "--url", p.Addr, "--token", token}, &out, &errb); code != 0 {
		t.Fatalf("list: exit %d: %s", code, errb.String())
	}
	secondID := state.Token{Hash: state.HashToken("second-token-0123456789")}.ID()
	if !strings.Contains(out.String(), secondID) || !strings.Contains(out.String(), "static") {
		t.Fatalf("list output:\n%s", out.String())
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o644)
	if code := run([]string{"token", "revoke", secondID, "--url", p.Addr, "--token-file", tokenFile}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "readable by others") {
		t.Fatalf("a world-readable token file was used: exit %d: %s", code, errb.String())
	}
	os.Chmod(tokenFile, 0o600)
	errb.Reset()
	if code := run([]string{"token", "revoke", secondID, "--url", p.Addr, "--token-file", tokenFile}, &out, &errb); code != 0 {
		t.Fatalf("revoke: exit %d: %s", code, errb.String())
	}
	if r := apitest.New(t, p.Addr).Do("GET", "/locks", "second-token-0123456789", nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", r.Status)
	}
	for _, args := range [][]string{{"token"}, {"token", "revoke"}, {"token", "list", "extra"}} {
		if code := run(args, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

func TestServe_GitHubConfiguration(t *testing.T) {
	var errb bytes.Buffer
	code := run([]string{"serve", "--data-dir", t.TempDir(), "--github-client-id", "id", "--github-client-secret", "s"}, &bytes.Buffer{}, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "admit every GitHub account") {
		t.Fatalf("open GitHub sign-in accepted: exit %d: %s", code, errb.String())
	}
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	p := startServe(t, []string{"OCTOSTORE_GITHUB_CLIENT_ID=my-app", "OCTOSTORE_GITHUB_ALLOWED_ORGS=acme"},
		"--data-dir", t.TempDir(), "--github-client-secret-file", secret, "--public-url", "https://locks.example.com")
	r := apitest.New(t, p.Addr).Get("/auth/github", "", nil)
	loc := r.Header.Get("Location")
	if r.Status != http.StatusFound || !strings.HasPrefix(loc, "https://github.com/login/oauth/authorize?") ||
		!strings.Contains(loc, "client_id=my-app") || !strings.Contains(loc, "redirect_uri=https%3A%2F%2Flocks.example.com%2Fauth%2Fgithub%2Fcallback") {
		t.Fatalf("redirect %d %s", r.Status, loc)
	}
	if !strings.Contains(r.Header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("cookie not Secure behind an https public URL: %s", r.Header.Get("Set-Cookie"))
	}
}
