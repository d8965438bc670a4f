package ui_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/ui"
)

// inlineHandler finds event handler attributes (onclick=…), which the
// policy would block.
var inlineHandler = regexp.MustCompile(`\son[a-z]+\s*=`)

// checkSecurityHeaders fails the test unless r carries the dashboard's
// security headers.
func checkSecurityHeaders(t *testing.T, what string, r *apitest.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": ui.SecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %s is %q, want %q", what, k, got, v)
		}
	}
}

// TestUI_Routes serves the page, its assets, a 404 and the redirect, all
// validated against the served spec by apitest.Client.
func TestUI_Routes(t *testing.T) {
	_, c := apitest.Start(t)

	page := c.Get("/ui/", "", nil)
	if page.Status != http.StatusOK || page.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /ui/: %d %q", page.Status, page.Header.Get("Content-Type"))
	}
	checkSecurityHeaders(t, "GET /ui/", page)
	body := string(page.Body)
	for _, want := range []string{`<script src="app.js" defer></script>`, `href="app.css"`, `href="/auth/github"`, `<label for="token">`,
		`data-github-sign-in="off"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /ui/: the page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>") || inlineHandler.MatchString(body) {
		t.Error("GET /ui/: the page has inline script")
	}

	for path, ctype := range map[string]string{"/ui/app.js": "text/javascript; charset=utf-8", "/ui/app.css": "text/css; charset=utf-8"} {
		r := c.Get(path, "", nil)
		if r.Status != http.StatusOK || r.Header.Get("Content-Type") != ctype || len(r.Body) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", path, r.Status, r.Header.Get("Content-Type"), len(r.Body))
		}
		checkSecurityHeaders(t, "GET "+path, r)
	}

	for _, path := range []string{"/ui/nope.js", "/ui/static/app.js", "/ui/app.js/x", "/ui/index.html"} {
		r := c.Get(path, "", nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.Status)
		}
		checkSecurityHeaders(t, "GET "+path, r)
	}

	for path, want := range map[string]string{"/ui": "/ui/", "/ui?x=1": "/ui/?x=1"} {
		r := c.Get(path, "", nil)
		if r.Status != http.StatusMovedPermanently || r.Header.Get("Location") != want {
			t.Errorf("GET %s: %d to %q, want 301 to %q", path, r.Status, r.Header.Get("Location"), want)
		}
	}
}

// TestUI_MethodsAndHead: HEAD has headers and no body; writes are 405.
func TestUI_MethodsAndHead(t *testing.T) {
	_, c := apitest.Start(t)
	head := c.Raw("HEAD", "/ui/app.js", "", nil)
	if head.Status != http.StatusOK || len(head.Body) != 0 || head.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("HEAD /ui/app.js: %d, %d bytes, %v", head.Status, len(head.Body), head.Header)
	}
	post := c.Raw("POST", "/ui/", "", nil)
	if post.Status != http.StatusMethodNotAllowed || post.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /ui/: %d, Allow %q", post.Status, post.Header.Get("Allow"))
	}
}

// TestUI_NoSuchPrefix: only /ui and /ui/... are the dashboard's.
func TestUI_NoSuchPrefix(t *testing.T) {
	_, c := apitest.Start(t)
	if r := c.Raw("GET", "/uix", "", nil); r.Status != http.StatusNotFound || r.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("GET /uix: %d, CSP %q", r.Status, r.Header.Get("Content-Security-Policy"))
	}
}

// TestUI_GitHubOption: the page offers GitHub sign-in only when the
// server has it.
func TestUI_GitHubOption(t *testing.T) {
	for on, want := range map[bool]string{true: `data-github-sign-in="on"`, false: `data-github-sign-in="off"`} {
		w := httptest.NewRecorder()
		ui.Handler(ui.Options{GitHubSignIn: on}).ServeHTTP(w, httptest.NewRequest("GET", "/ui/", nil))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GitHubSignIn %v: %d, the page lacks %s", on, w.Code, want)
		}
	}
}
