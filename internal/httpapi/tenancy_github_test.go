package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
	"github.com/octostore/octostore/internal/webhook"
)

// hubot shares acme with octocat (signin_test.go).
var hubot = ghUser{ID: 2, Login: "hubot", Orgs: []ghOrg{{ID: 9919, Login: "acme"}}}

// startIsolatedGitHub is a public service: any GitHub account signs in,
// isolated tenancy, bob (static) administers.
func startIsolatedGitHub(t *testing.T) *ghEnv {
	t.Helper()
	return startWithGitHub(t, func(c *auth.GitHubConfig) { c.AllowedOrgs, c.AllowAnyUser = nil, true },
		func(c *server.Config) { c.Tenancy = tenancy.Isolated })
}

// signInIsolated signs u in with the fake GitHub, which records its
// account and organizations, and returns its token.
func (e *ghEnv) signInIsolated(t *testing.T, u ghUser) string {
	t.Helper()
	return e.signIn(t, u).Token
}

// record records u as a re-check would have found it on GitHub
// (RecordGitHubAccount), without waiting for one.
func (e *ghEnv) record(t *testing.T, u ghUser) {
	t.Helper()
	cmd := state.RecordGitHubAccount{UserID: auth.Identity{GitHubID: u.ID}.UserID(), Login: u.Login, GitHubID: u.ID}
	for _, o := range u.Orgs {
		cmd.Orgs = append(cmd.Orgs, state.Org{ID: o.ID, Login: o.Login})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := state.Outcome(e.srv.Node().Apply(ctx, cmd)); err != nil {
		t.Fatal(err)
	}
}

func (e *ghEnv) binding(t *testing.T, ns string) string {
	t.Helper()
	var account string
	e.srv.Node().Read(context.Background(), false, func(v state.View, _ int64) { account, _ = v.NamespaceAccount(ns) })
	return account
}

// TestIsolatedGitHub_OrgMembersShare: two members of acme share acme/…;
// a stranger can take nothing there nor in a member's own namespace, and
// lists nothing of theirs. The first acquire binds acme to the
// organization's ID; reading binds nothing.
func TestIsolatedGitHub_OrgMembersShare(t *testing.T) {
	e := startIsolatedGitHub(t)
	octo, hu, mal := e.signInIsolated(t, octocat), e.signInIsolated(t, hubot), e.signInIsolated(t, mallory)
	wantStatus(t, e.c.Do("GET", "/locks/acme/deploy", hu, nil), http.StatusOK)
	if got := e.binding(t, "acme"); got != "" {
		t.Fatalf("a read bound acme to %q", got)
	}
	mustAcquire(t, e.c, "acme/deploy", octo, 30)
	if got := e.binding(t, "acme"); got != state.AccountGitHubOrg(9919) {
		t.Fatalf("acme bound to %q", got)
	}
	r, _ := acquire(t, e.c, "acme/deploy", hu, body{"ttl_seconds": 30})
	if c := wantError(t, r, http.StatusConflict, "lock_held"); c.Lock.Holder != "octocat" {
		t.Fatalf("conflict %+v", c)
	}
	mustAcquire(t, e.c, "hubot/own", hu, 30)
	for _, name := range []string{"acme/deploy", "acme/other", "octocat/x", "hubot/own"} {
		wantError(t, e.c.Do("POST", "/locks/"+name+"/acquire", mal, body{"ttl_seconds": 30}), http.StatusForbidden, "forbidden_namespace")
		wantError(t, e.c.Do("GET", "/locks/"+name, mal, nil), http.StatusForbidden, "forbidden_namespace")
	}
	mustAcquire(t, e.c, "evil/plan", mal, 30)
	if names, _ := listNames(t, e.c, mal, ""); len(names) != 1 || names[0] != "evil/plan" {
		t.Fatalf("mallory lists %v", names)
	}
	if names, _ := listNames(t, e.c, hu, ""); len(names) != 2 || names[0] != "acme/deploy" || names[1] != "hubot/own" {
		t.Fatalf("hubot lists %v", names)
	}
	// Leaving the organization ends access at the next request.
	e.record(t, ghUser{ID: hubot.ID, Login: hubot.Login})
	wantError(t, e.c.Do("GET", "/locks/acme/deploy", hu, nil), http.StatusForbidden, "forbidden_namespace")
}

// TestIsolatedGitHub_RenamedLoginIsNotInherited: owners are accounts, not
// logins. octocat renames itself; a new account that takes the login
// "octocat" is refused in octocat/… (namespace_owned_by_other_account,
// the same for a held and a free name), while the renamed account keeps
// its locks and its bound namespace.
func TestIsolatedGitHub_RenamedLoginIsNotInherited(t *testing.T) {
	e := startIsolatedGitHub(t)
	octo := e.signInIsolated(t, octocat)
	l := mustAcquire(t, e.c, "octocat/prod", octo, 30)
	renamed := ghUser{ID: octocat.ID, Login: "octo-renamed"}
	e.signInIsolated(t, renamed)
	squatter := e.signInIsolated(t, ghUser{ID: 9999, Login: "octocat"})
	var bodies []string
	for _, name := range []string{"octocat/prod", "octocat/free"} {
		for _, r := range []struct {
			method, path string
			b            body
		}{{"POST", "/locks/" + name + "/acquire", body{"ttl_seconds": 30}}, {"GET", "/locks/" + name, nil},
			{"POST", "/locks/" + name + "/release", body{"lease_id": l.LeaseID}}} {
			resp := e.c.Do(r.method, r.path, squatter, r.b)
			wantError(t, resp, http.StatusForbidden, "namespace_owned_by_other_account")
			bodies = append(bodies, string(resp.Body))
		}
	}
	if bodies[0] != bodies[3] || bodies[1] != bodies[4] {
		t.Fatalf("held and free answered differently:\n%v", bodies)
	}
	if names, _ := listNames(t, e.c, squatter, ""); len(names) != 0 {
		t.Fatalf("the squatter lists %v", names)
	}
	wantStatus(t, e.c.Do("POST", "/locks/octocat/prod/renew", octo, body{"lease_id": l.LeaseID, "ttl_seconds": 30}), http.StatusOK)
	mustAcquire(t, e.c, "octo-renamed/new", octo, 30)
	mustAcquire(t, e.c, "octocat/more", octo, 30)
	if names, _ := listNames(t, e.c, octo, ""); len(names) != 3 {
		t.Fatalf("the renamed account lists %v", names)
	}
}

// TestIsolatedGitHub_BlockingReadEndsWithTheNamespace: a blocking read
// that outlives its caller's membership answers 403 when it wakes, not
// the lock it may no longer see.
func TestIsolatedGitHub_BlockingReadEndsWithTheNamespace(t *testing.T) {
	e := startIsolatedGitHub(t)
	octo, hu := e.signInIsolated(t, octocat), e.signInIsolated(t, hubot)
	l := mustAcquire(t, e.c, "acme/deploy", octo, 30)
	first := e.c.Do("GET", "/locks/acme/deploy", hu, nil)
	wantStatus(t, first, http.StatusOK)
	index := first.Header.Get("X-OctoStore-Index")
	answer := make(chan *apitest.Response, 1)
	go func() { answer <- e.c.Do("GET", "/locks/acme/deploy?wait=30s&index="+index, hu, nil) }()
	poll.Until(t, 5*time.Second, "the read to wait", func() bool { // bob administers: he reads the metrics
		return strings.Contains(string(e.c.Do("GET", "/metrics", bob, nil).Body), "octostore_http_requests_waiting 1")
	})
	e.record(t, ghUser{ID: hubot.ID, Login: hubot.Login}) // hubot leaves acme
	wantStatus(t, e.c.Do("POST", "/locks/acme/deploy/renew", octo, body{"lease_id": l.LeaseID, "ttl_seconds": 30}), http.StatusOK)
	select {
	case r := <-answer:
		wantError(t, r, http.StatusForbidden, "forbidden_namespace")
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking read did not wake")
	}
}

// TestIsolatedGitHub_StrangerSeesNothing: a GitHub stranger on a public
// service sees none of acme's or octocat's names through any door: the
// list, an event stream, a webhook on "**", /cluster or /metrics. Events
// and deliveries come in order, so a first one that is the stranger's
// own proves nothing earlier leaked.
func TestIsolatedGitHub_StrangerSeesNothing(t *testing.T) {
	pool := apitest.NewReceiver(t).Roots()
	e := startWithGitHub(t, func(c *auth.GitHubConfig) { c.AllowedOrgs, c.AllowAnyUser = nil, true },
		func(c *server.Config) {
			c.Tenancy = tenancy.Isolated
			c.Webhooks = webhook.Config{AllowPrivate: true, RootCAs: pool}
			fastRetries(&c.Webhooks)
		})
	octo, hu, mal := e.signInIsolated(t, octocat), e.signInIsolated(t, hubot), e.signInIsolated(t, mallory)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := streamAs(t, ctx, e.c, mal, "")
	malHook, huHook := apitest.NewReceiver(t), apitest.NewReceiver(t)
	addHook(t, e.c, mal, body{"url": malHook.URL, "lock_pattern": "**", "events": []string{"acquired"}})
	addHook(t, e.c, hu, body{"url": huHook.URL, "lock_pattern": "**", "events": []string{"acquired"}})
	mustAcquire(t, e.c, "octocat/private", octo, 30)
	mustAcquire(t, e.c, "acme/deploy", octo, 30)
	mustAcquire(t, e.c, "evil/plan", mal, 30)
	if ev := next(t, stream); !strings.Contains(ev.data, `"lock":"evil/plan"`) {
		t.Fatalf("mallory's first event: %+v", ev)
	}
	if got := malHook.WaitFor(t, 1, 5*time.Second); got[0].Payload.Lock != "evil/plan" {
		t.Fatalf("mallory's webhook got %s first", got[0].Payload.Lock)
	}
	if got := huHook.WaitFor(t, 1, 5*time.Second); got[0].Payload.Lock != "acme/deploy" {
		t.Fatalf("hubot's webhook got %s first", got[0].Payload.Lock)
	}
	if names, _ := listNames(t, e.c, mal, ""); len(names) != 1 {
		t.Fatalf("mallory lists %v", names)
	}
	var cl clusterResp
	e.c.Do("GET", "/cluster", mal, nil).JSON(t, &cl)
	if len(cl.Nodes) != 1 || cl.Nodes[0].HTTPAddr != "" || cl.Nodes[0].RaftAddr != "" {
		t.Fatalf("mallory sees %+v", cl)
	}
	wantError(t, e.c.Do("GET", "/metrics", mal, nil), http.StatusForbidden, "forbidden")
	wantStatus(t, e.c.Do("GET", "/metrics", bob, nil), http.StatusOK) // bob administers
}

// TestIsolatedGitHub_RemovedMemberLosesTheOrgNamespace: a member GitHub
// removes from acme keeps acme/… until its last answer is an hour old,
// and loses it (403) after the re-check its next request starts; the
// members left keep it.
func TestIsolatedGitHub_RemovedMemberLosesTheOrgNamespace(t *testing.T) {
	e, clk, _ := startRechecking(t, func(c *auth.GitHubConfig) { c.AllowedOrgs, c.AllowAnyUser = nil, true },
		func(c *server.Config) { c.Tenancy = tenancy.Isolated })
	octo, hu := e.signInIsolated(t, octocat), e.signInIsolated(t, hubot)
	mustAcquire(t, e.c, "acme/deploy", octo, 30)
	e.gh.change(hubot.ID, func(u *ghUser) { u.Orgs = nil })
	wantStatus(t, e.c.Do("GET", "/locks/acme/deploy", hu, nil), http.StatusOK) // GitHub's last answer stands

	clk.advance(61 * time.Minute)
	poll.Until(t, 10*time.Second, "hubot refused acme/ after the re-check", func() bool {
		return e.c.Do("GET", "/locks/acme/deploy", hu, nil).Status == http.StatusForbidden
	})
	wantError(t, e.c.Do("POST", "/locks/acme/deploy/acquire", hu, body{"ttl_seconds": 30}), http.StatusForbidden, "forbidden_namespace")
	wantStatus(t, e.c.Do("GET", "/locks/acme/deploy", octo, nil), http.StatusOK)
	mustAcquire(t, e.c, "hubot/own", hu, 30) // its own namespace stays
}
