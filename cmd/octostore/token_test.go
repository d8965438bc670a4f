package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestTokenCLI_Create: token create against a real server prints a token
// that works within its prefix and is refused outside it and for writes;
// token list shows its columns.
func TestTokenCLI_Create(t *testing.T) {
	p := startServe(t, []string{"OCTOSTORE_TOKENS=tester:" + token}, "--data-dir", t.TempDir())
	var out, errb bytes.Buffer
	args := []string{"token", "create", "--name", "ci-deploy", "--prefix", "acme/deploy/", "--read-only", "--expires", "30d",
		"--json", "--url", p.Addr, "--token", token}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("create: exit %d: %s", code, errb.String())
	}
	var created struct {
		Token     string     `json:"token"`
		ID        string     `json:"id"`
		Access    string     `json:"access"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(out.Bytes(), &created); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if until := time.Until(*created.ExpiresAt); created.Access != "read" || until < 29*24*time.Hour || until > 30*24*time.Hour {
		t.Fatalf("created %+v", created)
	}
	c := apitest.New(t, p.Addr)
	if r := c.Do("GET", "/locks/acme/deploy/x", created.Token, nil); r.Status != http.StatusOK {
		t.Fatalf("inside: %d %s", r.Status, r.Body)
	}
	for _, r := range []*apitest.Response{
		c.Do("GET", "/locks/acme/other", created.Token, nil),
		c.Do("POST", "/locks/acme/deploy/x/acquire", created.Token, map[string]any{"ttl_seconds": 10}),
	} {
		if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), "token_scope") {
			t.Fatalf("outside: %d %s", r.Status, r.Body)
		}
	}
	out.Reset()
	if code := run([]string{"token", "list", "--url", p.Addr, "--token", token}, &out, &errb); code != 0 {
		t.Fatalf("list: exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"NAME", "ACCESS", "PREFIXES", "EXPIRES", "LAST USED", created.ID, "ci-deploy", "read", "acme/deploy/", "never"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("list lacks %q:\n%s", want, out.String())
		}
	}
	errb.Reset()
	if code := run([]string{"token", "create", "--name", "x", "--prefix", "a/", "--url", p.Addr, "--token", created.Token}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "token_scope") {
		t.Fatalf("a scoped token created a token: exit %d: %s", code, errb.String())
	}
	if code := run([]string{"token", "create", "--name", "x", "--prefix", "a/", "--expires", "soon", "--url", p.Addr, "--token", token}, &out, &errb); code != exitUsage {
		t.Fatalf("--expires soon: exit %d", code)
	}
}

// TestServe_TokenTTLFlag: --token-ttl takes days or a duration, and is
// refused beyond ten years or unparsable, before anything starts.
func TestServe_TokenTTLFlag(t *testing.T) {
	for _, v := range []string{"soon", "-1h", "4000d", "100000h"} {
		var errb bytes.Buffer
		if code := run([]string{"serve", "--data-dir", t.TempDir(), "--token-ttl", v}, &bytes.Buffer{}, &errb); code != exitUsage ||
			!strings.Contains(errb.String(), "token-ttl") {
			t.Errorf("--token-ttl %s: exit %d: %s", v, code, errb.String())
		}
	}
	var l lifetime
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "0": 0, "never": 0} {
		if err := l.Set(in); err != nil || time.Duration(l) != want {
			t.Errorf("%s: %v %v", in, time.Duration(l), err)
		}
	}
}
