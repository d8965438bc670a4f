package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/tenancy"
)

// chromiumPath is the Debian package's browser; the test drives it and
// downloads nothing.
const chromiumPath = "/usr/bin/chromium"

// stepTimeout bounds every browser step, so a broken page fails the test
// quickly instead of hanging it.
const stepTimeout = 10 * time.Second

// requireChromium fails the test when the browser is missing: CI must run
// it. A developer without chromium may set OCTOSTORE_SKIP_BROWSER=1.
func requireChromium(t *testing.T) {
	t.Helper()
	if os.Getenv("OCTOSTORE_SKIP_BROWSER") == "1" {
		t.Skip("OCTOSTORE_SKIP_BROWSER=1: the dashboard's browser test is skipped")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the dashboard's browser test needs %s (Debian: apt-get install -y chromium), "+
			"or set OCTOSTORE_SKIP_BROWSER=1 to skip it on a developer machine: %v", chromiumPath, err)
	}
}

// browser starts a headless chromium with a fresh profile and returns a
// tab's context; the browser ends with the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() }) // before TempDir's cleanup: registered after it
	// The first Run starts the browser and must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1000)); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// do runs steps within stepTimeout.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitFor polls a JavaScript predicate on every DOM change until it holds
// or timeout passes.
func waitFor(t *testing.T, ctx context.Context, what, predicate string, timeout time.Duration) {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	_, err := chromedp.Run(pctx, chromedp.Poll[bool](predicate, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		t.Fatalf("waiting until %s: %v", what, err)
	}
}

// evaluate returns a JavaScript expression's value.
func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ectx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ectx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// consoleErrors collects the page's console errors and uncaught
// exceptions (a Content-Security-Policy violation is one).
type consoleErrors struct {
	mu   sync.Mutex
	msgs []string
}

func watchConsole(ctx context.Context) *consoleErrors {
	c := &consoleErrors{}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				c.mu.Lock()
				c.msgs = append(c.msgs, m.String()+" ("+m.URL+")")
				c.mu.Unlock()
			}
		}
	}()
	return c
}

func (c *consoleErrors) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		t.Errorf("browser console: %s", m)
	}
}

// liveBadge is a predicate: the lock list follows the event stream.
const liveBadge = `document.getElementById('locks-mode').classList.contains('live')`

// requireLive fails the test unless the page still follows the event
// stream (and so has not been polling).
func requireLive(t *testing.T, ctx context.Context) {
	t.Helper()
	if !evaluate[bool](t, ctx, liveBadge) {
		t.Fatal("the page fell back to polling: the event stream failed")
	}
}

// rowFor is a predicate: the lock list shows name.
func rowFor(name string) string {
	return fmt.Sprintf(`!!document.querySelector('#locks tr[data-lock=%q]')`, name)
}

// electionFor is a predicate: the elections panel shows name.
func electionFor(name string) string {
	return fmt.Sprintf(`!!document.querySelector('#elections tr[data-election=%q]')`, name)
}

// leadership is a campaign's answer.
type leadership struct {
	LeaseID string `json:"lease_id"`
	Term    uint64 `json:"term"`
}

func campaign(t *testing.T, c *apitest.Client, name, token, value string) leadership {
	t.Helper()
	r := c.Do("POST", "/elections/"+name+"/campaign", token, map[string]any{"ttl_seconds": 600, "value": value})
	var l leadership
	r.JSON(t, &l)
	if r.Status != 200 || l.LeaseID == "" {
		t.Fatalf("campaign %s: %d %s", name, r.Status, r.Body)
	}
	return l
}

func resign(t *testing.T, c *apitest.Client, name, token, lease string) {
	t.Helper()
	if r := c.Do("POST", "/elections/"+name+"/resign", token, map[string]any{"lease_id": lease}); r.Status != 200 {
		t.Fatalf("resign %s: %d %s", name, r.Status, r.Body)
	}
}

// checkElection: the election's row names its leader, term and value,
// shown as text.
func checkElection(t *testing.T, ctx context.Context, name, leader string, term uint64, value string) {
	t.Helper()
	row := fmt.Sprintf(`document.querySelector('#elections tr[data-election=%q]')`, name)
	got := evaluate[[]string](t, ctx, `Array.from(`+row+`.cells, (c) => c.textContent)`)
	if len(got) != 5 || got[1] != leader || got[2] != fmt.Sprint(term) || got[3] != value || got[4] == "" {
		t.Errorf("election row %q, want leader %q, term %d, value %q and a time", got, leader, term, value)
	}
	if evaluate[bool](t, ctx, `!!document.querySelector('#elections img') || window.pwned === 1`) {
		t.Error("an election's value was rendered as HTML")
	}
}

// artifactDir is $OCTOSTORE_ARTIFACTS, or a temp dir.
func artifactDir(t *testing.T) string {
	if dir := os.Getenv("OCTOSTORE_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// screenshot saves the whole page as a PNG and logs where.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshot: %s", path)
}

// hostileMetadata would run script if the page rendered data as HTML.
const hostileMetadata = `<img src=x onerror="window.pwned=1">owner: nightly cron`

// TestUI_Browser signs in by pasting a token, watches a lock acquired
// through the API appear live, filters by prefix, sees a release, and
// saves a screenshot.
func TestUI_Browser(t *testing.T) {
	requireChromium(t)
	srv := apitest.StartServerWith(t, "", func(cfg *server.Config) { cfg.Webhooks.AllowPrivate = true })
	base := "http://" + srv.Addr()
	c := apitest.New(t, base)
	addWebhook(t, c)
	ctx := browser(t)
	console := watchConsole(ctx)

	do(t, ctx, "load the sign-in page", chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.ID("no-github")))
	if evaluate[bool](t, ctx, `!document.getElementById('github').hidden`) {
		t.Error("the page offers GitHub sign-in, which this server does not have")
	}
	screenshot(t, ctx, "ui-sign-in.png")
	signIn(t, ctx, base, apitest.AliceToken)
	waitFor(t, ctx, "the login shows", `document.getElementById('login').textContent === 'alice'`, stepTimeout)
	waitFor(t, ctx, "the event stream is open", liveBadge, stepTimeout)
	if got := evaluate[string](t, ctx, `location.href`); strings.Contains(got, apitest.AliceToken) {
		t.Errorf("the token is in the URL: %s", got)
	}

	leases := seed(t, c)
	waitFor(t, ctx, "the locks appear", rowFor("jobs/nightly-report")+" && "+rowFor("deploy/prod"), stepTimeout)
	requireLive(t, ctx) // so the event stream brought them: nothing polls while it is open
	checkRendering(t, ctx)
	leader := campaign(t, c, "svc/scheduler", apitest.BobToken, hostileMetadata)
	waitFor(t, ctx, "the election appears", electionFor("svc/scheduler"), stepTimeout)
	requireLive(t, ctx)
	checkElection(t, ctx, "svc/scheduler", "bob", leader.Term, hostileMetadata)

	do(t, ctx, "filter by prefix",
		chromedp.SendKeys(chromedp.ID("prefix"), "jobs/"),
		chromedp.Click(chromedp.CSS(`#prefix-form button[type="submit"]`)),
	)
	waitFor(t, ctx, "only jobs/ locks and elections show", rowFor("jobs/nightly-report")+" && !"+rowFor("deploy/prod")+
		" && !"+electionFor("svc/scheduler"), stepTimeout)
	do(t, ctx, "clear the filter",
		chromedp.Click(chromedp.ID("prefix-clear")),
	)
	waitFor(t, ctx, "every lock and election shows again", rowFor("deploy/prod")+" && "+electionFor("svc/scheduler"), stepTimeout)

	do(t, ctx, "create a session", chromedp.Click(chromedp.CSS(`#session-create button`)))
	waitFor(t, ctx, "the session shows", `!!document.querySelector('#sessions .pill.ok')`, stepTimeout)
	waitFor(t, ctx, "the cluster shows its leader", `document.querySelector('#nodes .pill.ok')?.textContent === 'leader'`, stepTimeout)
	waitFor(t, ctx, "the webhook shows", `document.querySelector('#webhooks code')?.textContent === 'https://127.0.0.1:9/octostore'`, stepTimeout)
	screenshot(t, ctx, "ui-dashboard.png")

	release(t, c, "deploy/prod", apitest.BobToken, leases["deploy/prod"])
	waitFor(t, ctx, "a released lock disappears", "!"+rowFor("deploy/prod"), stepTimeout)
	requireLive(t, ctx)
	resign(t, c, "svc/scheduler", apitest.BobToken, leader.LeaseID)
	waitFor(t, ctx, "a resigned election disappears", "!"+electionFor("svc/scheduler"), stepTimeout)
	requireLive(t, ctx)

	do(t, ctx, "sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("token")))
	if evaluate[bool](t, ctx, `sessionStorage.length > 0 || !!document.querySelector('#locks tr')`) {
		t.Error("signing out left the token, sessions or locks behind")
	}
	signInFromFragment(t, ctx, base)
	console.check(t)
}

// TestUI_BrowserWithoutStream: when /events cannot be reached, the lock
// list falls back to periodic refresh.
func TestUI_BrowserWithoutStream(t *testing.T) {
	requireChromium(t)
	srv, c := apitest.Start(t)
	base := "http://" + srv.Addr()
	ctx := browser(t)
	do(t, ctx, "block the event stream", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/events", Block: true}}})
		return err
	}))
	signIn(t, ctx, base, apitest.BobToken)
	waitFor(t, ctx, "the page falls back to refreshing",
		`document.getElementById('locks-mode').textContent.startsWith('Refreshing')`, stepTimeout)
	acquire(t, c, "fallback/lock", apitest.BobToken, "")
	campaign(t, c, "fallback/election", apitest.BobToken, "")
	waitFor(t, ctx, "a periodic refresh shows the lock and the election",
		rowFor("fallback/lock")+" && "+electionFor("fallback/election"), stepTimeout)
	if evaluate[bool](t, ctx, liveBadge) {
		t.Error("the page claims a live stream that was blocked")
	}
}

// signIn loads the dashboard and pastes token.
func signIn(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	do(t, ctx, "load the dashboard and sign in",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("dashboard")),
	)
}

// signInFromFragment follows the GitHub sign-in page's link: the token
// comes in the URL fragment, which the page takes and removes.
func signInFromFragment(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	do(t, ctx, "open the dashboard with #token=…",
		chromedp.Navigate("about:blank"),
		chromedp.Navigate(base+"/ui/#token="+apitest.BobToken),
		chromedp.WaitVisible(chromedp.ID("dashboard")),
	)
	waitFor(t, ctx, "bob is signed in", `document.getElementById('login').textContent === 'bob'`, stepTimeout)
	if got := evaluate[string](t, ctx, `location.href`); strings.Contains(got, "#") {
		t.Errorf("the fragment stayed in the address bar: %s", got)
	}
}

// seed gives the page something to show: two holders' locks, one with
// hostile metadata. It returns the locks' lease IDs.
func seed(t *testing.T, c *apitest.Client) map[string]string {
	t.Helper()
	leases := map[string]string{
		"jobs/nightly-report": acquire(t, c, "jobs/nightly-report", apitest.AliceToken, hostileMetadata),
		"deploy/prod":         acquire(t, c, "deploy/prod", apitest.BobToken, "release 2026.11.27"),
	}
	return leases
}

// addWebhook registers one of alice's webhooks (it fails to deliver: no
// one listens on port 9).
func addWebhook(t *testing.T, c *apitest.Client) {
	t.Helper()
	r := c.Do("POST", "/webhooks", apitest.AliceToken, map[string]any{
		"url": "https://127.0.0.1:9/octostore", "events": []string{"acquired", "released"}, "lock_pattern": "deploy/**"})
	if r.Status != 201 {
		t.Fatalf("create webhook: %d %s", r.Status, r.Body)
	}
}

func acquire(t *testing.T, c *apitest.Client, name, token, metadata string) (lease string) {
	t.Helper()
	r := c.Do("POST", "/locks/"+name+"/acquire", token, map[string]any{"ttl_seconds": 600, "metadata": metadata})
	var body struct {
		LeaseID string `json:"lease_id"`
	}
	r.JSON(t, &body)
	if r.Status != 200 || body.LeaseID == "" {
		t.Fatalf("acquire %s: %d %s", name, r.Status, r.Body)
	}
	return body.LeaseID
}

func release(t *testing.T, c *apitest.Client, name, token, lease string) {
	t.Helper()
	if r := c.Do("POST", "/locks/"+name+"/release", token, map[string]any{"lease_id": lease}); r.Status != 200 {
		t.Fatalf("release %s: %d %s", name, r.Status, r.Body)
	}
}

// checkRendering: data is shown as text, never interpreted as HTML.
func checkRendering(t *testing.T, ctx context.Context) {
	t.Helper()
	row := `document.querySelector('#locks tr[data-lock="jobs/nightly-report"]')`
	if got := evaluate[string](t, ctx, row+`.cells[4].textContent`); got != hostileMetadata {
		t.Errorf("metadata cell shows %q, want %q", got, hostileMetadata)
	}
	if evaluate[bool](t, ctx, `!!document.querySelector('#locks img') || window.pwned === 1`) {
		t.Error("lock metadata was rendered as HTML")
	}
	if got := evaluate[string](t, ctx, row+`.cells[1].textContent`); got != "alice (you)" {
		t.Errorf("holder cell shows %q, want %q", got, "alice (you)")
	}
}

// TestUI_BrowserIsolated: in isolated tenancy the dashboard shows only
// the signed-in user's namespaces, live, and the cluster without its
// addresses.
func TestUI_BrowserIsolated(t *testing.T) {
	requireChromium(t)
	srv := apitest.StartServerWith(t, "", func(cfg *server.Config) { cfg.Tenancy = tenancy.Isolated })
	base := "http://" + srv.Addr()
	c := apitest.New(t, base)
	acquire(t, c, "alice/secret", apitest.AliceToken, "")
	acquire(t, c, "bob/mine", apitest.BobToken, "")
	ctx := browser(t)
	console := watchConsole(ctx)
	signIn(t, ctx, base, apitest.BobToken)
	waitFor(t, ctx, "the event stream is open", liveBadge, stepTimeout)
	waitFor(t, ctx, "bob's lock shows", rowFor("bob/mine"), stepTimeout)
	acquire(t, c, "alice/later", apitest.AliceToken, "")
	acquire(t, c, "bob/after", apitest.BobToken, "")
	waitFor(t, ctx, "bob's new lock shows", rowFor("bob/after"), stepTimeout)
	requireLive(t, ctx)
	if n := evaluate[int](t, ctx, `document.querySelectorAll('#locks tr[data-lock^="alice"]').length`); n != 0 {
		t.Errorf("bob's dashboard shows %d of alice's locks", n)
	}
	waitFor(t, ctx, "the cluster shows its leader", `document.querySelector('#nodes .pill.ok')?.textContent === 'leader'`, stepTimeout)
	if got := evaluate[string](t, ctx, `document.getElementById('nodes').textContent`); strings.Contains(got, "127.0.0.1") {
		t.Errorf("the cluster table shows an address: %q", got)
	}
	console.check(t)
}
