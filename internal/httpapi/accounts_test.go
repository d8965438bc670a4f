package httpapi_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/httpapi"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/state"
)

// clockShift is the re-checks' clock, moved forward by the test instead
// of waiting an hour.
type clockShift struct{ by atomic.Int64 }

func (c *clockShift) now() time.Time          { return time.Now().Add(time.Duration(c.by.Load())) }
func (c *clockShift) advance(d time.Duration) { c.by.Add(int64(d)) }

// startRechecking is startWithGitHub with a clock the test moves and a
// debug-level log it reads.
func startRechecking(t *testing.T, tweak func(*auth.GitHubConfig), configure ...func(*server.Config)) (*ghEnv, *clockShift, *apitest.LogBuffer) {
	t.Helper()
	clk, logs := &clockShift{}, &apitest.LogBuffer{}
	e := startWithGitHub(t, tweak, append([]func(*server.Config){func(c *server.Config) {
		c.Accounts = httpapi.AccountChecks{Now: clk.now}
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}}, configure...)...)
	return e, clk, logs
}

// account reads what the replicated state holds about GitHub account u.
func (e *ghEnv) account(t *testing.T, u ghUser) (user state.User, grant string) {
	t.Helper()
	id := auth.Identity{GitHubID: u.ID}.UserID()
	err := e.srv.Node().Read(t.Context(), false, func(s state.View, _ int64) {
		user, _ = s.User(id)
		grant = s.GitHubGrant(id)
	})
	if err != nil {
		t.Fatal(err)
	}
	return user, grant
}

// waitAccount polls the state until account u satisfies cond.
func (e *ghEnv) waitAccount(t *testing.T, u ghUser, what string, cond func(state.User, string) bool) state.User {
	t.Helper()
	var got state.User
	poll.Until(t, 10*time.Second, what, func() bool {
		var grant string
		got, grant = e.account(t, u)
		return cond(got, grant)
	})
	return got
}

// useUntil uses token until cond holds: the request that finds a
// re-check due may come while the previous one is still finishing (its
// answer recorded, its log line written), and then starts none.
func (e *ghEnv) useUntil(t *testing.T, token, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, 10*time.Second, what, func() bool {
		wantStatus(t, e.c.Do("GET", "/locks", token, nil), http.StatusOK)
		return cond()
	})
}

func orgsOf(u ghUser) []state.Org {
	var out []state.Org
	for _, o := range u.Orgs {
		out = append(out, state.Org{ID: o.ID, Login: o.Login})
	}
	slices.SortFunc(out, func(a, b state.Org) int { return int(a.ID - b.ID) })
	return out
}

var hubber = ghUser{ID: 583231, Login: "octocat", Orgs: []ghOrg{{ID: 9919, Login: "acme"}, {ID: 12, Login: "Beta-Org"}}}

// TestGitHub_SignInRecordsAccount: a sign-in records the account's
// GitHub ID, its organizations with their IDs (whether or not an
// allow-list needs them) and its grant; signing in again after a rename
// updates the same user.
func TestGitHub_SignInRecordsAccount(t *testing.T) {
	e, _, _ := startRechecking(t, func(c *auth.GitHubConfig) { c.AllowedOrgs, c.AllowAnyUser = nil, true })
	before := time.Now()
	e.signIn(t, hubber)
	u, first := e.account(t, hubber)
	if u.GitHubID != hubber.ID || u.Login != "octocat" || !slices.Equal(u.Orgs, orgsOf(hubber)) ||
		u.OrgsCheckedAt < before.UnixNano() || !slices.Equal(e.gh.grants(), []string{first}) {
		t.Fatalf("recorded %+v", u)
	}
	renamed := hubber
	renamed.Login, renamed.Orgs = "octodog", nil
	e.signIn(t, renamed)
	again, second := e.account(t, renamed)
	if again.ID != u.ID || again.Login != "octodog" || len(again.Orgs) != 0 || second == first || !slices.Contains(e.gh.grants(), second) {
		t.Fatalf("after a rename %+v", again)
	}
}

// TestGitHub_RecheckFollowsMembership: a member removed from an
// organization at GitHub keeps it until its last answer is an hour old,
// and loses it at the first request after that; the request does not
// wait for GitHub, and many requests make one re-check.
func TestGitHub_RecheckFollowsMembership(t *testing.T) {
	// GitHub calls may take 10 s here: a request that waited for the
	// re-check would show plainly.
	e, clk, logs := startRechecking(t, func(c *auth.GitHubConfig) { c.AllowedOrgs, c.AllowAnyUser, c.Timeout = nil, true, 10*time.Second })
	s := e.signIn(t, hubber)
	signedIn, _ := e.account(t, hubber)
	e.gh.change(hubber.ID, func(u *ghUser) { u.Orgs = u.Orgs[:1] }) // removed from Beta-Org
	calls := e.gh.userCalls()

	clk.advance(59 * time.Minute)
	for range 10 {
		wantStatus(t, e.c.Do("GET", "/locks", s.Token, nil), http.StatusOK)
	}
	// A re-check would run in the background; a write through the log
	// gives it time to show (not a proof: TestAccounts_Due is).
	mustAcquire(t, e.c, "barrier", s.Token, 5)
	if u, _ := e.account(t, hubber); e.gh.userCalls() != calls || u.OrgsCheckedAt != signedIn.OrgsCheckedAt {
		t.Fatalf("re-checked before the hour: %d GitHub calls, %+v", e.gh.userCalls()-calls, u)
	}

	clk.advance(2 * time.Minute)
	release := e.gh.hold()
	start := time.Now()
	for range 20 {
		wantStatus(t, e.c.Do("GET", "/locks", s.Token, nil), http.StatusOK)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("requests waited for GitHub: %v", took)
	}
	release()
	u := e.waitAccount(t, hubber, "membership re-checked", func(u state.User, _ string) bool { return u.OrgsCheckedAt != signedIn.OrgsCheckedAt })
	if want := []state.Org{{ID: 9919, Login: "acme"}}; !slices.Equal(u.Orgs, want) {
		t.Fatalf("orgs after the re-check %v, want %v", u.Orgs, want)
	}
	if n := e.gh.userCalls() - calls; n != 1 {
		t.Fatalf("%d re-checks for one user", n)
	}
	poll.Until(t, 10*time.Second, "the change logged", func() bool { return strings.Contains(logs.String(), "GitHub account changed") })
	if line := logLine(logs.String(), "GitHub account changed"); !strings.Contains(line, `previous_orgs="[Beta-Org acme]"`) {
		t.Fatalf("the change logged as %q", line)
	}
}

// TestGitHub_RecheckKeepsLastAnswerWhenGitHubFails: GitHub failing keeps
// the last answer and says so in the log, naming the user and the
// answer's time; once GitHub answers again, a later re-check records it.
func TestGitHub_RecheckKeepsLastAnswerWhenGitHubFails(t *testing.T) {
	e, clk, logs := startRechecking(t, nil)
	s := e.signIn(t, octocat)
	signedIn, _ := e.account(t, octocat)
	e.gh.set(func(f *fakeGitHub) { f.fail = http.StatusServiceUnavailable })
	calls := e.gh.userCalls()
	clk.advance(61 * time.Minute)
	wantStatus(t, e.c.Do("GET", "/locks", s.Token, nil), http.StatusOK)
	poll.Until(t, 10*time.Second, "the failure logged", func() bool { return strings.Contains(logs.String(), "not re-checked") })
	line := logLine(logs.String(), "not re-checked")
	last := time.Unix(0, signedIn.OrgsCheckedAt).UTC()
	for _, want := range []string{"login=octocat", "user_id=" + signedIn.ID.String(), "last_answer=" + last.Format("2006-01-02T15:04:05"),
		"stale_at=" + last.Add(24*time.Hour).Format("2006-01-02T15:04:05"), "503"} {
		if !strings.Contains(line, want) {
			t.Errorf("warning lacks %q: %s", want, line)
		}
	}
	if u, _ := e.account(t, octocat); !slices.Equal(u.Orgs, signedIn.Orgs) || u.OrgsCheckedAt != signedIn.OrgsCheckedAt || e.gh.userCalls() != calls+1 {
		t.Fatalf("after a GitHub failure: %+v", u)
	}

	e.gh.set(func(f *fakeGitHub) { f.fail = 0 })
	clk.advance(6 * time.Minute) // past the retry delay
	e.useUntil(t, s.Token, "the answer recorded once GitHub is back", func() bool {
		u, _ := e.account(t, octocat)
		return u.OrgsCheckedAt != signedIn.OrgsCheckedAt && slices.Equal(u.Orgs, signedIn.Orgs)
	})
}

// TestGitHub_RecheckRevokedGrantDropsOrgs: GitHub refusing the grant
// (401: the user revoked the app) drops the user's organizations and its
// grant, and says so; on a server that admits any account its OctoStore
// token keeps working.
func TestGitHub_RecheckRevokedGrantDropsOrgs(t *testing.T) {
	e, clk, logs := startRechecking(t, func(c *auth.GitHubConfig) { c.AllowedOrgs, c.AllowAnyUser = nil, true })
	s := e.signIn(t, octocat)
	e.gh.revoke(octocat.ID)
	clk.advance(61 * time.Minute)
	wantStatus(t, e.c.Do("GET", "/locks", s.Token, nil), http.StatusOK)
	u := e.waitAccount(t, octocat, "orgs and grant dropped", func(u state.User, grant string) bool { return len(u.Orgs) == 0 && grant == "" })
	if u.GitHubID != octocat.ID || u.Login != "octocat" {
		t.Fatalf("after a revoked grant %+v", u)
	}
	poll.Until(t, 10*time.Second, "the revocation logged", func() bool { return strings.Contains(logs.String(), "refused the user's grant") })
	if line := logLine(logs.String(), "refused the user's grant"); !strings.Contains(line, "login=octocat") || !strings.Contains(line, "acme") {
		t.Fatalf("revocation not logged: %q", line)
	}
	wantStatus(t, e.c.Do("GET", "/locks", s.Token, nil), http.StatusOK)
}

// TestGitHub_RecheckOvertakenBySignIn: a re-check whose grant GitHub
// refuses, answered only after the user signed in again, does not drop
// the new sign-in's grant and organizations.
func TestGitHub_RecheckOvertakenBySignIn(t *testing.T) {
	// The held request must outlast a sign-in, however loaded the machine.
	e, clk, logs := startRechecking(t, func(c *auth.GitHubConfig) { c.Timeout = 10 * time.Second })
	s := e.signIn(t, octocat)
	_, old := e.account(t, octocat)
	release := e.gh.holdGrant(old)
	defer release()
	e.gh.revoke(octocat.ID)
	clk.advance(61 * time.Minute)
	calls := e.gh.userCalls()
	e.useUntil(t, s.Token, "the re-check asking GitHub", func() bool { return e.gh.userCalls() > calls })
	joined := octocat
	joined.Orgs = append(slices.Clone(octocat.Orgs), ghOrg{ID: 77, Login: "newco"})
	e.signIn(t, joined)
	release() // GitHub now refuses the old grant
	poll.Until(t, 10*time.Second, "the re-check ending", func() bool {
		return strings.Contains(logs.String(), "overtaken by a sign-in") || strings.Contains(logs.String(), "refused the user's grant")
	})
	u, grant := e.account(t, octocat)
	if grant == "" || grant == old || !slices.Equal(u.Orgs, orgsOf(joined)) {
		t.Fatalf("a late re-check undid the sign-in: %+v", u)
	}
}

// TestGitHub_RecheckPicksUpRename: an account renamed at GitHub is
// renamed here by the next re-check: same user, same locks, new login.
func TestGitHub_RecheckPicksUpRename(t *testing.T) {
	e, clk, _ := startRechecking(t, nil)
	s := e.signIn(t, octocat)
	l := mustAcquire(t, e.c, "renamed/lock", s.Token, 60)
	e.gh.change(octocat.ID, func(u *ghUser) { u.Login = "octodog" })
	clk.advance(61 * time.Minute)
	wantStatus(t, e.c.Do("GET", "/locks", s.Token, nil), http.StatusOK)
	u := e.waitAccount(t, octocat, "the rename recorded", func(u state.User, _ string) bool { return u.Login == "octodog" })
	if u.ID != (auth.Identity{GitHubID: octocat.ID}).UserID() || u.GitHubID != octocat.ID {
		t.Fatalf("renamed %+v", u)
	}
	var got lockResp
	e.c.Do("GET", "/locks/renamed/lock", s.Token, nil).JSON(t, &got)
	if got.Holder != "octodog" || got.LeaseID != l.LeaseID {
		t.Fatalf("lock after the rename %+v", got)
	}
}

func logLine(logs, containing string) string {
	for line := range strings.Lines(logs) {
		if strings.Contains(line, containing) {
			return line
		}
	}
	return ""
}

// answers keeps a copy of every answer's headers and body that passes
// through it.
type answers struct {
	mu  sync.Mutex
	all bytes.Buffer
}

func (a *answers) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	a.mu.Lock()
	defer a.mu.Unlock()
	resp.Header.Write(&a.all)
	a.all.Write(body)
	return resp, err
}

func (a *answers) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.all.String()
}

// TestGitHub_GrantNeverShown: the GitHub grant kept for re-checks is in
// no API answer (sign-in, token lists, /cluster, namespaces, locks,
// errors) and in no log line, debug level included, through a sign-in, a
// re-check, a GitHub failure and a revocation. (The admin-only
// /cluster/snapshot carries it, as it carries webhook secrets: it is a
// backup of the whole state.)
func TestGitHub_GrantNeverShown(t *testing.T) {
	e, clk, logs := startRechecking(t, func(c *auth.GitHubConfig) { c.AllowedOrgs, c.AllowAnyUser = nil, true }) // a revoked grant keeps the token
	seen := &answers{}
	e.c.HTTP.Transport = seen
	s := e.signIn(t, octocat)
	q, cookie := e.begin(t, octocat)
	e.callback(t, q, cookie, "text/html") // the browser's page
	mustAcquire(t, e.c, "octocat/x", s.Token, 30)
	for _, tok := range []string{s.Token, bob} {
		for _, path := range []string{"/auth/tokens", "/auth/tokens?all=true", "/cluster", "/namespaces", "/locks", "/locks/octocat/x"} {
			e.c.Do("GET", path, tok, nil)
		}
	}
	signedIn, _ := e.account(t, octocat)
	clk.advance(61 * time.Minute) // a re-check that succeeds
	e.c.Do("GET", "/locks", s.Token, nil)
	e.waitAccount(t, octocat, "re-checked", func(u state.User, _ string) bool { return u.OrgsCheckedAt != signedIn.OrgsCheckedAt })
	e.gh.set(func(f *fakeGitHub) { f.fail = http.StatusBadGateway })
	clk.advance(61 * time.Minute) // one that fails
	e.useUntil(t, s.Token, "the failure logged", func() bool { return strings.Contains(logs.String(), "not re-checked") })
	e.gh.set(func(f *fakeGitHub) { f.fail = 0 })
	e.gh.revoke(octocat.ID)
	clk.advance(61 * time.Minute) // and a revoked grant
	e.useUntil(t, s.Token, "grant dropped", func() bool { _, grant := e.account(t, octocat); return grant == "" })
	if len(e.gh.grants()) != 0 {
		t.Fatal("the fake should have forgotten the revoked grants")
	}
	for _, g := range e.gh.issued() {
		if strings.Contains(seen.String(), g) || strings.Contains(logs.String(), g) {
			t.Fatalf("grant %s shown", g)
		}
	}
}

// TestGitHub_RecheckAppliesTheAllowLists: a re-check makes the sign-in's
// decision again. A member GitHub removes from the only allowed
// organization loses every token at the re-check its next request starts;
// so does one whose grant GitHub refuses, since its membership can no
// longer be known. A member still in it keeps its token.
func TestGitHub_RecheckAppliesTheAllowLists(t *testing.T) {
	e, clk, logs := startRechecking(t, nil) // --github-allowed-orgs ACME
	removed, revoked, stays := octocat, mallory, hubot
	revoked.Orgs = octocat.Orgs
	removedToken, revokedToken, staysToken := e.signIn(t, removed).Token, e.signIn(t, revoked).Token, e.signIn(t, stays).Token
	e.gh.change(removed.ID, func(u *ghUser) { u.Orgs = []ghOrg{{ID: 12, Login: "Beta-Org"}} })
	e.gh.revoke(revoked.ID)
	clk.advance(61 * time.Minute)
	for _, token := range []string{removedToken, revokedToken} {
		poll.Until(t, 10*time.Second, "the token revoked by the re-check", func() bool {
			return e.c.Do("GET", "/locks", token, nil).Status == http.StatusUnauthorized
		})
	}
	poll.Until(t, 10*time.Second, "the revocations logged", func() bool {
		return strings.Count(logs.String(), "no longer allowed on this server") == 2
	})
	wantStatus(t, e.c.Do("GET", "/locks", staysToken, nil), http.StatusOK)
}
