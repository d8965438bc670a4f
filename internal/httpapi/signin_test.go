package httpapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/server"
)

var (
	octocat = ghUser{ID: 583231, Login: "octocat", Orgs: []ghOrg{{ID: 9919, Login: "acme"}}}
	mallory = ghUser{ID: 666, Login: "mallory", Orgs: []ghOrg{{ID: 6660, Login: "evil"}}}
)

// ghEnv is a server with GitHub sign-in against a fake GitHub.
type ghEnv struct {
	gh  *fakeGitHub
	srv *server.Server
	c   *apitest.Client
	dir string
}

// startWithGitHub starts a server signing in with a fake GitHub; tweak
// (when not nil) changes the sign-in configuration and configure the
// server's.
func startWithGitHub(t *testing.T, tweak func(*auth.GitHubConfig), configure ...func(*server.Config)) *ghEnv {
	t.Helper()
	e := &ghEnv{gh: newFakeGitHub(t), dir: t.TempDir()}
	gh := e.signInConfig(t, tweak)
	e.srv = apitest.StartServerWith(t, e.dir, func(c *server.Config) {
		c.SignIn = gh
		c.AdminUsers = []string{"bob"}
		for _, f := range configure {
			f(c)
		}
	})
	e.c = apitest.New(t, "http://"+e.srv.Addr())
	return e
}

// signInConfig is the sign-in flow against e's fake GitHub.
func (e *ghEnv) signInConfig(t *testing.T, tweak func(*auth.GitHubConfig)) *auth.GitHub {
	t.Helper()
	cfg := auth.GitHubConfig{ClientID: ghClientID, ClientSecret: ghClientSecret, BaseURL: e.gh.URL,
		APIURL: e.gh.URL, PublicURL: "http://octostore.test", AllowedOrgs: []string{"ACME"},
		Timeout: 500 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	gh, err := auth.NewGitHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return gh
}

// begin starts a sign-in as GitHub user u and returns the callback query
// GitHub sends the browser back with, and the browser's state cookie.
func (e *ghEnv) begin(t *testing.T, u ghUser) (query url.Values, cookie *http.Cookie) {
	t.Helper()
	e.gh.set(func(f *fakeGitHub) { f.next = u })
	r := e.c.Get("/auth/github", "", nil)
	wantStatus(t, r, http.StatusFound)
	cookies := (&http.Response{Header: r.Header}).Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	resp, err := e.c.HTTP.Get(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("fake GitHub authorize: %d %v", resp.StatusCode, err)
	}
	return back.Query(), cookies[0]
}

func (e *ghEnv) callback(t *testing.T, q url.Values, cookie *http.Cookie, accept string) *apitest.Response {
	t.Helper()
	h := http.Header{}
	if !q.Has("code") { // GitHub's answer when the user declines
		return e.c.GetRaw("/auth/github/callback?"+q.Encode(), "", h)
	}
	if cookie != nil {
		h.Set("Cookie", cookie.Name+"="+cookie.Value)
	}
	if accept != "" {
		h.Set("Accept", accept)
	}
	return e.c.Get("/auth/github/callback?"+q.Encode(), "", h)
}

type signedIn struct {
	Token string
	User  struct {
		Login     string
		AvatarURL string `json:"avatar_url"`
	}
}

func (e *ghEnv) signIn(t *testing.T, u ghUser) signedIn {
	t.Helper()
	q, cookie := e.begin(t, u)
	r := e.callback(t, q, cookie, "")
	wantStatus(t, r, http.StatusOK)
	var s signedIn
	r.JSON(t, &s)
	return s
}

func TestGitHub_SignIn(t *testing.T) {
	e := startWithGitHub(t, nil)
	t.Run("RedirectAndCookie", func(t *testing.T) {
		r := e.c.Get("/auth/github", "", nil)
		wantStatus(t, r, http.StatusFound)
		loc, _ := url.Parse(r.Header.Get("Location"))
		q := loc.Query()
		if loc.Path != "/login/oauth/authorize" || q.Get("client_id") != ghClientID ||
			q.Get("redirect_uri") != "http://octostore.test/auth/github/callback" ||
			q.Get("scope") != "read:user read:org" || len(q.Get("state")) < 22 {
			t.Fatalf("authorize URL %s", loc)
		}
		c := (&http.Response{Header: r.Header}).Cookies()[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/auth/github" || c.Value == q.Get("state") {
			t.Fatalf("state cookie %+v", c)
		}
	})
	t.Run("HappyPath", func(t *testing.T) {
		s := e.signIn(t, octocat)
		if !strings.HasPrefix(s.Token, "octo_") || s.User.Login != "octocat" || s.User.AvatarURL == "" {
			t.Fatalf("signed in %+v", s)
		}
		l := mustAcquire(t, e.c, "gh/lock", s.Token, 30)
		if l.Holder != "octocat" {
			t.Fatalf("holder %q", l.Holder)
		}
	})
	t.Run("BrowserGetsAPage", func(t *testing.T) {
		q, cookie := e.begin(t, octocat)
		r := e.callback(t, q, cookie, "text/html,application/xhtml+xml")
		wantStatus(t, r, http.StatusOK)
		body := string(r.Body)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "octo_") ||
			!strings.Contains(body, "Copy token") || !strings.Contains(body, `href="/ui/#token=octo_`) ||
			!strings.Contains(r.Header.Get("Content-Security-Policy"), "nonce-") ||
			r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("page %q headers %v", body, r.Header)
		}
	})
	t.Run("BadStates", func(t *testing.T) {
		q, cookie := e.begin(t, octocat)
		unknown := url.Values{"code": q["code"], "state": {"made-up"}}
		wantError(t, e.callback(t, unknown, cookie, ""), http.StatusUnauthorized, "sign_in_failed")
		q, cookie = e.begin(t, octocat)
		wantError(t, e.callback(t, q, &http.Cookie{Name: cookie.Name, Value: "another-browser"}, ""), http.StatusUnauthorized, "sign_in_failed")
		q, cookie = e.begin(t, octocat)
		wantError(t, e.callback(t, q, nil, ""), http.StatusUnauthorized, "sign_in_failed")
		q, cookie = e.begin(t, octocat)
		wantStatus(t, e.callback(t, q, cookie, ""), http.StatusOK)
		e := wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "sign_in_failed")
		if !strings.Contains(e.Details, "used") {
			t.Fatalf("reused state: details %q", e.Details)
		}
	})
	t.Run("WrongCode", func(t *testing.T) {
		q, cookie := e.begin(t, octocat)
		q.Set("code", "not-a-code")
		e := wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "sign_in_failed")
		if !strings.Contains(e.Details, "bad_verification_code") {
			t.Fatalf("details %q", e.Details)
		}
	})
	t.Run("UserDenied", func(t *testing.T) {
		_, cookie := e.begin(t, octocat)
		q := url.Values{"error": {"access_denied"}, "error_description": {"The user has denied your application access."}}
		e := wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "sign_in_failed")
		if !strings.Contains(e.Details, "access_denied") {
			t.Fatalf("details %q", e.Details)
		}
	})
	t.Run("OrgAllowList", func(t *testing.T) {
		q, cookie := e.begin(t, mallory)
		e := wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "not_allowed")
		if !strings.Contains(e.Details, "mallory") {
			t.Fatalf("details %q", e.Details)
		}
	})
}

func TestGitHub_Failures(t *testing.T) {
	e := startWithGitHub(t, nil)
	t.Run("GitHub500", func(t *testing.T) {
		q, cookie := e.begin(t, octocat)
		e.gh.set(func(f *fakeGitHub) { f.fail = http.StatusInternalServerError })
		defer e.gh.set(func(f *fakeGitHub) { f.fail = 0 })
		r := wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "sign_in_failed")
		if !strings.Contains(r.Details, "500") {
			t.Fatalf("details %q", r.Details)
		}
	})
	t.Run("GitHubTimeout", func(t *testing.T) {
		q, cookie := e.begin(t, octocat)
		// Ten times the client timeout: a sign-in that waits for GitHub
		// would show plainly, however loaded the machine.
		e.gh.set(func(f *fakeGitHub) { f.delay = 5 * time.Second })
		defer e.gh.set(func(f *fakeGitHub) { f.delay = 0 })
		start := time.Now()
		wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "sign_in_failed")
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("sign-in hung for %v", took)
		}
	})
	t.Run("GitHubUnreachable", func(t *testing.T) {
		q, cookie := e.begin(t, octocat)
		e.gh.Close()
		r := wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "sign_in_failed")
		if !strings.Contains(r.Details, "access_token") {
			t.Fatalf("details %q", r.Details)
		}
	})
}

func TestGitHub_StateExpires(t *testing.T) {
	e := startWithGitHub(t, func(c *auth.GitHubConfig) { c.StateTTL = 100 * time.Millisecond })
	q, cookie := e.begin(t, octocat)
	time.Sleep(150 * time.Millisecond) // let the sign-in's lifetime pass
	r := wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "sign_in_failed")
	if !strings.Contains(r.Details, "expired") {
		t.Fatalf("details %q", r.Details)
	}
}

func TestGitHub_AllowLists(t *testing.T) {
	e := startWithGitHub(t, func(c *auth.GitHubConfig) { c.AllowedOrgs = nil; c.AllowedUsers = []string{"OctoCat"} })
	e.signIn(t, octocat)
	q, cookie := e.begin(t, mallory)
	wantError(t, e.callback(t, q, cookie, ""), http.StatusUnauthorized, "not_allowed")
	// Organizations own namespaces, so they are read at every sign-in.
	if r := e.c.Get("/auth/github", "", nil); !strings.Contains(r.Header.Get("Location"), "scope=read%3Auser+read%3Aorg&") {
		t.Fatalf("the scope must ask for read:org: %s", r.Header.Get("Location"))
	}
}

func TestGitHub_RenamedAccountKeepsItsLocks(t *testing.T) {
	e := startWithGitHub(t, nil)
	first := e.signIn(t, octocat)
	l := mustAcquire(t, e.c, "renamed/lock", first.Token, 60)
	renamed := octocat
	renamed.Login = "octodog"
	second := e.signIn(t, renamed)
	var got lockResp
	e.c.Do("GET", "/locks/renamed/lock", second.Token, nil).JSON(t, &got)
	if got.Holder != "octodog" || got.LeaseID != l.LeaseID {
		t.Fatalf("after rename: %+v", got)
	}
	wantStatus(t, e.c.Do("POST", "/locks/renamed/lock/release", second.Token, body{"lease_id": l.LeaseID}), http.StatusOK)
}

func TestGitHub_NotConfigured(t *testing.T) {
	_, c := apitest.Start(t)
	wantError(t, c.Get("/auth/github", "", nil), http.StatusNotFound, "github_not_configured")
	wantError(t, c.Get("/auth/github/callback?code=x&state=y", "", nil), http.StatusNotFound, "github_not_configured")
}

func rotate(t *testing.T, c *apitest.Client, token string) string {
	t.Helper()
	r := c.Do("POST", "/auth/token/rotate", token, nil)
	wantStatus(t, r, http.StatusOK)
	var out struct{ Token string }
	r.JSON(t, &out)
	if !strings.HasPrefix(out.Token, "octo_") || out.Token == token {
		t.Fatalf("rotated token %q", out.Token)
	}
	return out.Token
}

// TestTokens_Rotation: the old token stops at once, the new one owns
// everything the old one did, and a rotated static token stays dead
// across a restart that still configures it.
func TestTokens_Rotation(t *testing.T) {
	e := startWithGitHub(t, nil)
	old := e.signIn(t, octocat).Token
	l := mustAcquire(t, e.c, "rot/lock", old, 60)
	fresh := rotate(t, e.c, old)
	wantError(t, e.c.Do("GET", "/locks", old, nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, e.c.Do("POST", "/auth/token/rotate", old, nil), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, e.c.Do("POST", "/locks/rot/lock/release", fresh, body{"lease_id": l.LeaseID}), http.StatusOK)

	newAlice := rotate(t, e.c, alice)
	wantError(t, e.c.Do("GET", "/locks", alice, nil), http.StatusUnauthorized, "unauthorized")
	e.srv.Shutdown(t.Context())
	srv := apitest.StartServer(t, e.dir) // configures alice's old token again
	c := apitest.New(t, "http://"+srv.Addr())
	wantError(t, c.Do("GET", "/locks", alice, nil), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, c.Do("GET", "/locks", newAlice, nil), http.StatusOK)
	srv.Shutdown(t.Context())
	for _, raw := range []string{old, fresh, newAlice, alice} {
		if apitest.DirContains(t, e.dir, raw) {
			t.Fatalf("a raw token is stored in the data dir")
		}
	}
}

type tokenListResp struct {
	Tokens []struct {
		ID, Login, Source string
		Current           bool
	}
}

func TestTokens_ListAndRevoke(t *testing.T) {
	e := startWithGitHub(t, nil)
	phone := e.signIn(t, octocat).Token
	laptop := e.signIn(t, octocat).Token
	var list tokenListResp
	e.c.Do("GET", "/auth/tokens", laptop, nil).JSON(t, &list)
	if len(list.Tokens) != 2 || list.Tokens[0].Current || !list.Tokens[1].Current || list.Tokens[0].Source != "github" {
		t.Fatalf("tokens %+v", list)
	}
	phoneID := list.Tokens[0].ID
	wantError(t, e.c.Do("DELETE", "/auth/tokens/"+phoneID, alice, nil), http.StatusNotFound, "token_not_found")
	wantStatus(t, e.c.Do("DELETE", "/auth/tokens/"+phoneID, laptop, nil), http.StatusNoContent)
	wantError(t, e.c.Do("GET", "/locks", phone, nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, e.c.Do("DELETE", "/auth/tokens/"+phoneID, laptop, nil), http.StatusNotFound, "token_not_found")
	wantError(t, e.c.Raw("DELETE", "/auth/tokens/XYZ", laptop, nil), http.StatusUnprocessableEntity, "validation_error")

	wantError(t, e.c.Do("GET", "/auth/tokens?all=true", alice, nil), http.StatusForbidden, "forbidden")
	e.c.Do("GET", "/auth/tokens?all=true", bob, nil).JSON(t, &list) // bob is an admin user
	var laptopID string
	for _, tok := range list.Tokens {
		if tok.Login == "octocat" {
			laptopID = tok.ID
		}
	}
	if len(list.Tokens) != 3 || laptopID == "" {
		t.Fatalf("all tokens %+v", list)
	}
	wantStatus(t, e.c.Do("DELETE", "/auth/tokens/"+laptopID, bob, nil), http.StatusNoContent)
	wantError(t, e.c.Do("GET", "/locks", laptop, nil), http.StatusUnauthorized, "unauthorized")
}
