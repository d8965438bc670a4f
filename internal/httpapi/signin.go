package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
)

// stateCookie binds a pending sign-in to the browser that started it.
const stateCookie = "octostore_signin"

func (a *API) handleGitHubLogin(w http.ResponseWriter, r *request) {
	if a.signIn == nil {
		a.writeError(w, r.Request, ErrNoSignIn)
		return
	}
	location, binding := a.signIn.Begin(time.Now())
	http.SetCookie(w, a.stateCookie(r.Request, binding, int(10*time.Minute/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusFound)
}

// stateCookie is Secure when the public URL is https (TLS may end at a
// proxy in front) or when this request itself came over TLS: a browser
// that reached the server over HTTPS must never send the cookie over
// plain HTTP.
func (a *API) stateCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: stateCookie, Value: value, Path: "/auth/github", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: a.signIn.Secure() || r.TLS != nil}
}

type signInUser struct {
	Login     string `json:"login"`
	AvatarURL string `json:"avatar_url"`
}

type signInResponse struct {
	Token string     `json:"token"`
	User  signInUser `json:"user"`
}

// handleGitHubCallback completes a sign-in and issues a new token. Every
// failure is the seed's 401, with details saying what went wrong.
func (a *API) handleGitHubCallback(w http.ResponseWriter, r *request) {
	if a.signIn == nil {
		a.writeError(w, r.Request, ErrNoSignIn)
		return
	}
	q := r.URL.Query()
	if q.Get("code") == "" {
		a.writeError(w, r.Request, fmt.Errorf("%w: GitHub sent no code (%s)", auth.ErrGitHub, strings.TrimSpace(q.Get("error")+" "+q.Get("error_description"))))
		return
	}
	var binding string
	if c, err := r.Cookie(stateCookie); err == nil {
		binding = c.Value
	}
	http.SetCookie(w, a.stateCookie(r.Request, "", -1)) // used or not, this sign-in is over
	id, err := a.signIn.Finish(r.Context(), time.Now(), q.Get("code"), q.Get("state"), binding)
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	// The account (its GitHub ID, organizations and grant) is recorded
	// before the token exists: the new token never works with the
	// organizations of an earlier sign-in.
	if _, ok := a.apply(w, r, recordAccount(id)); !ok {
		return
	}
	token := auth.NewToken()
	cmd := state.CreateToken{Hash: state.HashToken(token), UserID: id.UserID(), Login: id.Login, Source: state.SourceSignIn,
		TTL: a.tokenTTL, Slide: a.tokenTTL > 0}
	if _, ok := a.apply(w, r, cmd); !ok {
		return
	}
	a.log.Info("signed in with GitHub", "login", id.Login, "user_id", id.UserID())
	a.writeNewToken(w, r, signInResponse{Token: token, User: signInUser{Login: id.Login, AvatarURL: id.AvatarURL}})
}

// recordAccount is what GitHub said about id, grant included, as a
// command: at sign-in and at each re-check (accounts.go).
func recordAccount(id auth.Identity) state.RecordGitHubAccount {
	return state.RecordGitHubAccount{UserID: id.UserID(), Login: id.Login, GitHubID: id.GitHubID, Orgs: id.Orgs,
		Grant: string(id.Grant)}
}

type rotateResponse struct {
	Token string `json:"token"`
}

// handleRotateToken replaces the caller's token with a new one; the old one
// stops working with this request.
func (a *API) handleRotateToken(w http.ResponseWriter, r *request) {
	token := auth.NewToken()
	_, err := state.Outcome(a.store.Apply(r.Context(), state.RotateToken{Old: r.token, New: state.HashToken(token)}))
	if errors.Is(err, state.ErrTokenNotFound) {
		err = ErrUnauthorized // revoked or rotated by a concurrent request
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, rotateResponse{Token: token})
}

// writeNewToken shows a token that exists nowhere else: JSON for
// programs, a page with a copy button for a browser. Neither is cached.
func (a *API) writeNewToken(w http.ResponseWriter, r *request, resp signInResponse) {
	w.Header().Set("Cache-Control", "no-store")
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeJSON(w, http.StatusOK, resp)
		return
	}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	page := tokenPage{Nonce: base64.StdEncoding.EncodeToString(nonce), Login: resp.User.Login,
		Token: resp.Token, Dashboard: a.ui != nil, Curl: fmt.Sprintf(`curl -H "Authorization: Bearer %s" %s/locks`, resp.Token, baseURL(r.Request))}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-"+page.Nonce+"'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := tokenPageTemplate.Execute(w, page); err != nil {
		a.log.Warn("token page", "err", err)
	}
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

type tokenPage struct {
	Nonce, Login, Token, Curl string
	Dashboard                 bool // link to /ui/, the token in the fragment (never sent to a server)
}

var tokenPageTemplate = template.Must(template.New("token").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OctoStore token</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem}
code,pre{background:#f4f4f4;padding:.4rem;border-radius:4px;word-break:break-all;white-space:pre-wrap}</style></head>
<body><h1>Signed in as {{.Login}}</h1>
<p>Your OctoStore token. It is shown only this once: copy it now.</p>
<pre id="token">{{.Token}}</pre>
<button id="copy">Copy token</button>
<p>Use it like this:</p><pre>{{.Curl}}</pre>
{{if .Dashboard}}<p><a href="/ui/#token={{.Token}}">Open the dashboard</a> signed in with this token.</p>{{end}}
<script nonce="{{.Nonce}}">document.getElementById("copy").onclick=function(){
navigator.clipboard.writeText(document.getElementById("token").textContent);this.textContent="Copied";};</script>
</body></html>
`))
