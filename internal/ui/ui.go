package ui

import (
	"bytes"
	"embed"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is where the dashboard is served; Prefix without its trailing
// slash redirects to it.
const Prefix = "/ui/"

// SecurityPolicy is the Content-Security-Policy of every dashboard
// response: the page's own script, style and API only, no inline code,
// never framed.
const SecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file and how it is served.
type asset struct {
	file        string // path inside static
	contentType string
}

// assets maps a path under Prefix to its file; "" is the page itself.
var assets = map[string]asset{
	"":        {"static/index.html", "text/html; charset=utf-8"},
	"app.js":  {"static/app.js", "text/javascript; charset=utf-8"},
	"app.css": {"static/app.css", "text/css; charset=utf-8"},
}

// githubMarker is the page's attribute saying whether to offer GitHub
// sign-in; the script reads it.
const githubMarker = `data-github-sign-in="off"`

// Options adapt the page to the server.
type Options struct {
	// GitHubSignIn offers "Sign in with GitHub"; without it the page
	// says that only a pasted token signs in.
	GitHubSignIn bool
}

// handler serves the embedded files, read once.
type handler struct {
	bodies map[string][]byte // by path under Prefix
}

// Handler serves the dashboard for GET and HEAD requests to /ui and
// everything under /ui/. Unknown paths are a JSON 404, like the API's.
func Handler(opts Options) http.Handler {
	h := &handler{bodies: map[string][]byte{}}
	for path, a := range assets {
		body, err := static.ReadFile(a.file)
		if err != nil {
			panic("ui: embedded file missing: " + a.file) // caught by the tests
		}
		h.bodies[path] = body
	}
	if opts.GitHubSignIn {
		h.bodies[""] = bytes.Replace(h.bodies[""], []byte(githubMarker), []byte(`data-github-sign-in="on"`), 1)
	}
	return h
}

// ServeHTTP answers one request for the dashboard.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	path := r.URL.Path
	if path == strings.TrimSuffix(Prefix, "/") {
		redirect(w, r)
		return
	}
	name, ok := strings.CutPrefix(path, Prefix)
	body, found := h.bodies[name]
	if !ok || !found {
		notFound(w)
		return
	}
	w.Header().Set("Content-Type", assets[name].contentType)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", SecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// redirect sends /ui to /ui/, keeping the query.
func redirect(w http.ResponseWriter, r *http.Request) {
	target := Prefix
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusMovedPermanently)
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"error":"No such route","code":"not_found"}` + "\n"))
}
