package httpapi_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
	"github.com/octostore/octostore/internal/webhook"
)

// Isolated tenancy's cast: alice and bob share the static group acme;
// eve is a stranger to both; root is an administrator.
const (
	eve  = "eve-test-token-0123456789"
	root = "root-test-token-0123456789"
)

// startIsolated runs a server in isolated tenancy whose webhooks may
// target loopback receivers.
func startIsolated(t *testing.T, configure ...func(*server.Config)) (*server.Server, *apitest.Client) {
	t.Helper()
	groups := filepath.Join(t.TempDir(), "groups")
	if err := os.WriteFile(groups, []byte("# teams\nacme: alice, bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := apitest.NewReceiver(t).Roots()
	srv := apitest.StartServerWith(t, "", func(c *server.Config) {
		c.Tokens += ",eve:" + eve + ",root:" + root
		c.AdminUsers = []string{"root"}
		c.Tenancy, c.GroupsFile = tenancy.Isolated, groups
		c.Webhooks = webhook.Config{AllowPrivate: true, RootCAs: pool}
		fastRetries(&c.Webhooks)
		for _, f := range configure {
			f(c)
		}
	})
	return srv, apitest.New(t, "http://"+srv.Addr())
}

// TestIsolated_SquattingIsRefused: eve can neither take, renew, release
// nor read a name under another owner, held or not, and her refusals are
// byte for byte the same either way, so they say nothing of the lock.
func TestIsolated_SquattingIsRefused(t *testing.T) {
	_, c := startIsolated(t)
	held := mustAcquire(t, c, "alice/deploy", alice, 30)
	mustAcquire(t, c, "acme/deploy", bob, 30)
	lease := body{"lease_id": held.LeaseID, "ttl_seconds": 30}
	for _, name := range []string{"alice/deploy", "acme/deploy"} {
		free := strings.Replace(name, "deploy", "free", 1)
		var bodies []string
		for _, n := range []string{name, free} {
			for _, r := range []*apitest.Response{
				c.Do("POST", "/locks/"+n+"/acquire", eve, body{"ttl_seconds": 30}),
				c.Do("POST", "/locks/"+n+"/acquire", eve, body{"ttl_seconds": 30, "wait_seconds": 5}),
				c.Do("POST", "/locks/"+n+"/renew", eve, lease),
				c.Do("POST", "/locks/"+n+"/release", eve, body{"lease_id": held.LeaseID}),
				c.Do("GET", "/locks/"+n, eve, nil),
				c.Do("GET", "/locks/"+n+"?index=1&wait=5s", eve, nil),
				c.Do("GET", "/locks/"+n+"?stale=true", eve, nil),
			} {
				wantError(t, r, http.StatusForbidden, "forbidden_namespace")
				bodies = append(bodies, string(r.Body))
			}
		}
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Fatalf("%s: refusals differ, held or free:\n%s\n%s", name, bodies[0], b)
			}
		}
	}
	if r := c.Do("GET", "/locks/alice/deploy", alice, nil); !strings.Contains(string(r.Body), held.LeaseID) {
		t.Fatalf("alice's lock changed: %s", r.Body)
	}
	mustAcquire(t, c, "eve/anything", eve, 30)
	mustAcquire(t, c, "eve", eve, 30) // the owner alone is a name of the owner's too
	e := wantError(t, c.Do("POST", "/locks/Eve/x/acquire", eve, body{"ttl_seconds": 30}), http.StatusForbidden, "forbidden_namespace")
	if !strings.Contains(e.Details, "lowercase") {
		t.Fatalf("an uppercase owner should say why: %+v", e)
	}
}

// TestIsolated_GroupMembersShare: a group's members share its namespace
// like one team: they contend for, see and hand over each other's locks.
func TestIsolated_GroupMembersShare(t *testing.T) {
	_, c := startIsolated(t)
	l := mustAcquire(t, c, "acme/deploy/prod", alice, 30)
	r, _ := acquire(t, c, "acme/deploy/prod", bob, body{"ttl_seconds": 30})
	if e := wantError(t, r, http.StatusConflict, "lock_held"); e.Lock.Holder != "alice" {
		t.Fatalf("conflict %+v", e)
	}
	var st lockResp
	c.Do("GET", "/locks/acme/deploy/prod", bob, nil).JSON(t, &st)
	if st.Status != "held" || st.Holder != "alice" {
		t.Fatalf("bob sees %+v", st)
	}
	wantStatus(t, c.Do("POST", "/locks/acme/deploy/prod/release", alice, body{"lease_id": l.LeaseID}), http.StatusOK)
	if next := mustAcquire(t, c, "acme/deploy/prod", bob, 30); next.FencingToken <= l.FencingToken {
		t.Fatalf("fencing %d after %d", next.FencingToken, l.FencingToken)
	}
}

type listResp struct {
	Locks []struct {
		Name string `json:"name"`
	} `json:"locks"`
	NextAfter *string `json:"next_after"`
}

func listNames(t *testing.T, c *apitest.Client, token, query string) ([]string, *string) {
	t.Helper()
	r := c.Do("GET", "/locks"+query, token, nil)
	wantStatus(t, r, http.StatusOK)
	var l listResp
	r.JSON(t, &l)
	var names []string
	for _, x := range l.Locks {
		names = append(names, x.Name)
	}
	return names, l.NextAfter
}

// TestIsolated_ListShowsOnlyYourNamespaces: a list without a prefix
// shows the caller's namespaces only, in name order and page by page; a
// prefix outside them is refused rather than answered empty.
func TestIsolated_ListShowsOnlyYourNamespaces(t *testing.T) {
	_, c := startIsolated(t)
	for name, token := range map[string]string{"alice/a": alice, "alice/b": alice, "acme/x": bob, "bob/y": bob,
		"eve/z": eve, "alice": alice} {
		mustAcquire(t, c, name, token, 30)
	}
	for _, tc := range []struct{ token, query, want string }{
		{alice, "", "acme/x alice alice/a alice/b"},
		{bob, "", "acme/x bob/y"},
		{eve, "", "eve/z"},
		{alice, "?prefix=a", "acme/x alice alice/a alice/b"},
		{alice, "?prefix=alice/", "alice/a alice/b"},
		{alice, "?prefix=acme", "acme/x"},
		{root, "", "acme/x alice alice/a alice/b bob/y eve/z"}, // administrators are not confined
	} {
		if got, _ := listNames(t, c, tc.token, tc.query); strings.Join(got, " ") != tc.want {
			t.Errorf("%s%s: %v, want %s", tc.token[:3], tc.query, got, tc.want)
		}
	}
	var pages []string
	for after, query := "", "?limit=1"; ; query = "?limit=1&after=" + after {
		names, next := listNames(t, c, alice, query)
		pages = append(pages, names...)
		if next == nil {
			break
		}
		after = *next
	}
	if strings.Join(pages, " ") != "acme/x alice alice/a alice/b" {
		t.Fatalf("pages %v", pages)
	}
	for _, prefix := range []string{"bob/", "b", "eve/z", "Alice/"} {
		wantError(t, c.Do("GET", "/locks?prefix="+prefix, alice, nil), http.StatusForbidden, "forbidden_namespace")
	}
}

// streamAs opens GET /events as token and returns its events.
func streamAs(t *testing.T, ctx context.Context, c *apitest.Client, token, query string) <-chan sseEvent {
	t.Helper()
	resp := c.Stream(ctx, "/events"+query, token)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		readEvents(resp.Body, out)
	}()
	return out
}

// TestIsolated_EventsShowOnlyYourNamespaces: event streams, live or
// replayed, and whatever their prefix, carry only the caller's
// namespaces. Events come in order, so the first one a stream gets
// proves nothing earlier leaked into it.
func TestIsolated_EventsShowOnlyYourNamespaces(t *testing.T) {
	_, c := startIsolated(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := streamAs(t, ctx, c, eve, "")
	spying := streamAs(t, ctx, c, eve, "?prefix=alice/")
	team := streamAs(t, ctx, c, bob, "")
	mustAcquire(t, c, "alice/secret", alice, 30)
	mustAcquire(t, c, "acme/deploy", alice, 30)
	mustAcquire(t, c, "eve/mine", eve, 30)
	if e := next(t, live); !strings.Contains(e.data, `"lock":"eve/mine"`) {
		t.Fatalf("eve's first event: %+v", e)
	}
	if e := next(t, team); !strings.Contains(e.data, `"lock":"acme/deploy"`) {
		t.Fatalf("bob's first event: %+v", e)
	}
	replay := streamAs(t, ctx, c, eve, "?after=0")
	if e := next(t, replay); !strings.Contains(e.data, `"lock":"eve/mine"`) {
		t.Fatalf("eve's replay: %+v", e)
	}
	mustAcquire(t, c, "eve/alice/marker", eve, 30) // under eve's namespace: nothing for the spying stream
	if e := next(t, live); !strings.Contains(e.data, "eve/alice/marker") {
		t.Fatalf("eve's second event: %+v", e)
	}
	select {
	case e := <-spying:
		t.Fatalf("a stream under alice/ got %+v", e)
	default:
	}
}

// TestIsolated_WebhooksSeeOnlyTheirOwnersNamespaces: a webhook on "**"
// gets the events of its owner's namespaces and nothing else; an
// administrator's gets everything. Deliveries are in order, so a first
// delivery that is the owner's proves nothing earlier was sent.
func TestIsolated_WebhooksSeeOnlyTheirOwnersNamespaces(t *testing.T) {
	_, c := startIsolated(t)
	eves, bobs, roots := apitest.NewReceiver(t), apitest.NewReceiver(t), apitest.NewReceiver(t)
	addHook(t, c, eve, body{"url": eves.URL, "lock_pattern": "**", "events": []string{"acquired"}})
	addHook(t, c, bob, body{"url": bobs.URL, "lock_pattern": "**", "events": []string{"acquired"}})
	addHook(t, c, root, body{"url": roots.URL, "lock_pattern": "**", "events": []string{"acquired"}})
	for _, l := range []struct{ name, token string }{{"alice/secret", alice}, {"acme/deploy", alice},
		{"eve/mine", eve}, {"acme/marker", bob}} {
		mustAcquire(t, c, l.name, l.token, 30)
	}
	if got := eves.WaitFor(t, 1, 5*time.Second); got[0].Payload.Lock != "eve/mine" {
		t.Fatalf("eve's webhook got %s first", got[0].Payload.Lock)
	}
	if got := bobs.WaitFor(t, 2, 5*time.Second); got[0].Payload.Lock != "acme/deploy" || got[1].Payload.Lock != "acme/marker" {
		t.Fatalf("bob's webhook got %s, %s", got[0].Payload.Lock, got[1].Payload.Lock)
	}
	if got := roots.WaitFor(t, 4, 5*time.Second); got[0].Payload.Lock != "alice/secret" {
		t.Fatalf("root's webhook got %s first", got[0].Payload.Lock)
	}
	if n := len(eves.Accepted()); n != 1 {
		t.Fatalf("eve's webhook got %d deliveries", n)
	}
}

type clusterResp struct {
	Nodes []struct {
		ID       string `json:"id"`
		RaftAddr string `json:"raft_addr"`
		HTTPAddr string `json:"http_addr"`
	} `json:"nodes"`
}

// TestIsolated_ClusterAndMetricsAreForAdmins: in isolated tenancy users
// are strangers to the operator: /cluster hides where the nodes are and
// the state digest, and /metrics (every tenant's activity) needs an
// administrator's token or the metrics token.
func TestIsolated_ClusterAndMetricsAreForAdmins(t *testing.T) {
	_, c := startIsolated(t, func(c *server.Config) { c.MetricsToken = "metrics-token-0123456789" })
	var user, admin clusterResp
	c.Do("GET", "/cluster", eve, nil).JSON(t, &user)
	c.Do("GET", "/cluster", root, nil).JSON(t, &admin)
	if len(user.Nodes) != 1 || user.Nodes[0].HTTPAddr != "" || user.Nodes[0].RaftAddr != "" || user.Nodes[0].ID == "" {
		t.Fatalf("a user sees %+v", user)
	}
	if len(admin.Nodes) != 1 || admin.Nodes[0].HTTPAddr == "" {
		t.Fatalf("an admin sees %+v", admin)
	}
	wantError(t, c.Do("GET", "/cluster?digest=true", eve, nil), http.StatusForbidden, "forbidden")
	wantStatus(t, c.Do("GET", "/cluster?digest=true", root, nil), http.StatusOK)

	wantError(t, c.Do("GET", "/metrics", "", nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, c.Do("GET", "/metrics", "not-a-token-0123456789", nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, c.Do("GET", "/metrics", eve, nil), http.StatusForbidden, "forbidden")
	wantStatus(t, c.Do("GET", "/metrics", root, nil), http.StatusOK)
	wantStatus(t, c.Do("GET", "/metrics", "metrics-token-0123456789", nil), http.StatusOK)
}

// TestShared_ClusterAndMetricsUnchanged: shared tenancy keeps today's
// answers: addresses for every user, public metrics.
func TestShared_ClusterAndMetricsUnchanged(t *testing.T) {
	_, c := apitest.Start(t)
	var user clusterResp
	c.Do("GET", "/cluster", alice, nil).JSON(t, &user)
	if len(user.Nodes) != 1 || user.Nodes[0].HTTPAddr == "" {
		t.Fatalf("a user sees %+v", user)
	}
	wantStatus(t, c.Do("GET", "/cluster?digest=true", alice, nil), http.StatusOK)
	wantStatus(t, c.Do("GET", "/metrics", "", nil), http.StatusOK)
	names, _ := listNames(t, c, bob, "?prefix=alice/")
	if mustAcquire(t, c, "alice/x", bob, 30); len(names) != 0 {
		t.Fatal(names)
	}
}

// TestIsolated_FirstBindingWins: when two accounts may claim one owner
// (here the user bob and a group the operator also named bob, with eve
// in it), the first write binds it and the other account is refused from
// then on, even when both race for it.
func TestIsolated_FirstBindingWins(t *testing.T) {
	groups := filepath.Join(t.TempDir(), "groups")
	if err := os.WriteFile(groups, []byte("bob: eve\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, c := startIsolated(t, func(c *server.Config) { c.GroupsFile = groups })
	results := make(chan struct {
		token  string
		status int
		code   string
	}, 2)
	for _, token := range []string{bob, eve} {
		go func() {
			r := c.Do("POST", "/locks/bob/"+token[:3]+"/acquire", token, body{"ttl_seconds": 30})
			var e errResp
			if r.Status != http.StatusOK {
				r.JSON(t, &e)
			}
			results <- struct {
				token  string
				status int
				code   string
			}{token, r.Status, e.Code}
		}()
	}
	got := []struct {
		token  string
		status int
		code   string
	}{<-results, <-results}
	var account string
	srvRead(t, srv, func(v state.View) { account, _ = v.NamespaceAccount("bob") })
	for _, r := range got {
		winner := account == "user:bob" && r.token == bob || account == "group:bob" && r.token == eve
		if winner && r.status != http.StatusOK || !winner && (r.status != http.StatusForbidden || r.code != "namespace_owned_by_other_account") {
			t.Errorf("bound to %s, %s got %d %s", account, r.token[:3], r.status, r.code)
		}
	}
}

func srvRead(t *testing.T, srv *server.Server, fn func(v state.View)) {
	t.Helper()
	if err := srv.Node().Read(context.Background(), false, func(v state.View, _ int64) { fn(v) }); err != nil {
		t.Fatal(err)
	}
}

// TestIsolated_ScopedTokensStayWithinTheCreator: a scoped token's
// prefixes must reach into its creator's own namespaces; an administrator
// may scope a token anywhere.
func TestIsolated_ScopedTokensStayWithinTheCreator(t *testing.T) {
	_, c := startIsolated(t)
	create := func(token string, prefixes ...string) *apitest.Response {
		return c.Do("POST", "/auth/tokens", token, body{"name": "ci", "access": "write", "prefixes": prefixes})
	}
	for _, prefixes := range [][]string{{"alice/"}, {"eve/ci/", "acme/deploy/"}, {"x"}} {
		if e := wantError(t, create(eve, prefixes...), http.StatusForbidden, "forbidden_namespace"); !strings.Contains(e.Details, "eve/") {
			t.Fatalf("%v: the refusal should name eve's own namespace: %+v", prefixes, e)
		}
	}
	wantStatus(t, create(eve, "eve/ci/"), http.StatusCreated)
	wantStatus(t, create(eve, "e"), http.StatusCreated) // reaches into eve/: the creator's owners still confine it at use
	wantStatus(t, create(alice, "acme/deploy/", "alice/"), http.StatusCreated)
	wantStatus(t, create(root, "alice/"), http.StatusCreated)
}
