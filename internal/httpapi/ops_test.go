package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/webhook"
)

const (
	metricsToken  = "metrics-test-token-0123456789"
	opsClusterKey = "ops-test-cluster-key-0123456789"
	hookSecret    = "webhook-secret-0123456789"
	pathSecret    = "path-secret-0123456789"
	querySecret   = "query-secret-0123456789"
)

// startOps runs a server with everything that handles secrets switched
// on (GitHub sign-in, webhooks, a metrics token, a cluster key) and
// debug logs, in JSON, captured in logs.
func startOps(t *testing.T, logs *apitest.LogBuffer) *ghEnv {
	t.Helper()
	e := &ghEnv{gh: newFakeGitHub(t), dir: t.TempDir()}
	gh, err := auth.NewGitHub(auth.GitHubConfig{ClientID: ghClientID, ClientSecret: ghClientSecret, BaseURL: e.gh.URL,
		APIURL: e.gh.URL, PublicURL: "http://octostore.test", AllowedOrgs: []string{"acme"}, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pool := apitest.NewReceiver(t).Roots()
	e.srv = apitest.StartServerWith(t, e.dir, func(c *server.Config) {
		c.SignIn = gh
		c.Webhooks = webhook.Config{AllowPrivate: true, RootCAs: pool}
		fastRetries(&c.Webhooks)
		c.MetricsToken = metricsToken
		c.Cluster = cluster.Config{RaftAddr: "127.0.0.1:0", ClusterKey: []byte(opsClusterKey)}
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.c = apitest.New(t, "http://"+e.srv.Addr())
	return e
}

// walkthrough exercises every route that carries a secret and returns
// the secrets it saw.
func walkthrough(t *testing.T, e *ghEnv) []string {
	q, cookie := e.begin(t, octocat)
	r := e.callback(t, q, cookie, "")
	wantStatus(t, r, http.StatusOK)
	var s signedIn
	r.JSON(t, &s)
	rotated := rotate(t, e.c, s.Token)
	rcv := apitest.NewReceiver(t)
	addHook(t, e.c, rotated, body{"url": rcv.URL + "/hook", "secret": hookSecret})
	// A failing receiver whose URL carries a credential: delivery errors
	// are logged, the URL's path and query must not be.
	addHook(t, e.c, rotated, body{"url": "https://127.0.0.1:1/hook/" + pathSecret + "?key=" + querySecret})
	l := mustAcquire(t, e.c, "ops/walk", rotated, 30)
	wantStatus(t, e.c.Do("POST", "/locks/ops/walk/renew", rotated, body{"lease_id": l.LeaseID, "ttl_seconds": 30}), http.StatusOK)
	wantStatus(t, e.c.Do("POST", "/locks/ops/walk/release", rotated, body{"lease_id": l.LeaseID}), http.StatusOK)
	r = e.c.Do("POST", "/sessions", alice, body{"ttl_seconds": 10})
	wantStatus(t, r, http.StatusCreated)
	var sess sessionResp
	r.JSON(t, &sess)
	mustAcquireIn(t, e.c, "ops/session", alice, sess.SessionID)
	wantStatus(t, e.c.Do("DELETE", "/sessions/"+sess.SessionID, alice, nil), http.StatusNoContent)
	mustAcquire(t, e.c, "ops/expires", bob, 1)
	wantStatus(t, e.c.Do("GET", "/locks/nope", "wrong-token-0123456789", nil), http.StatusUnauthorized)
	rcv.WaitFor(t, 4, 10*time.Second)
	poll.Until(t, 10*time.Second, "a failed delivery", func() bool {
		v, _ := value(scrape(t, e.c), "octostore_webhook_delivery_failures_total", nil)
		return v >= 1
	})
	return []string{s.Token, rotated, alice, bob, hookSecret, pathSecret, querySecret, metricsToken, opsClusterKey, ghClientSecret,
		q.Get("code"), q.Get("state"), cookie.Value, "wrong-token-0123456789", "gho_"}
}

func mustAcquireIn(t *testing.T, c *apitest.Client, name, token, session string) {
	t.Helper()
	r, _ := acquire(t, c, name, token, body{"ttl_seconds": 30, "session_id": session})
	wantStatus(t, r, http.StatusOK)
}

// scrape reads /metrics with the token and parses the exposition.
func scrape(t *testing.T, c *apitest.Client) map[string]*dto.MetricFamily {
	t.Helper()
	r := c.Do("GET", "/metrics", metricsToken, nil)
	wantStatus(t, r, http.StatusOK)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	return fams
}

// value is the sum of the samples of family name whose labels include
// want (a counter, a gauge, or a histogram's count).
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
	for _, m := range f.Metric {
		if !hasLabels(m, want) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, lp := range m.Label {
		if v, ok := want[lp.GetName()]; ok && v == lp.GetValue() {
			n++
		}
	}
	return n == len(want)
}

// The full walkthrough with debug logs: the exposition parses and has
// every series after the traffic, no label carries a lock name, and no
// secret or token reaches any log line.
func TestOps_MetricsAndLogsAfterWalkthrough(t *testing.T) {
	logs := &apitest.LogBuffer{}
	e := startOps(t, logs)
	secrets := walkthrough(t, e)
	var fams map[string]*dto.MetricFamily
	poll.Until(t, 10*time.Second, "the expiry to be counted", func() bool {
		fams = scrape(t, e.c)
		v, _ := value(fams, "octostore_lock_events_total", map[string]string{"event": "expired"})
		return v >= 1
	})
	for _, want := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"octostore_http_requests_total", map[string]string{"route": "/locks/{name}/acquire", "method": "POST", "code": "200"}, 3},
		{"octostore_http_requests_total", map[string]string{"route": "/locks/{name}", "code": "401"}, 1},
		{"octostore_http_request_duration_seconds", map[string]string{"route": "/locks/{name}/renew"}, 1},
		{"octostore_lock_events_total", map[string]string{"event": "acquired"}, 3},
		{"octostore_lock_events_total", map[string]string{"event": "renewed"}, 1},
		{"octostore_lock_events_total", map[string]string{"event": "released"}, 2},
		{"octostore_locks_held", nil, 0},
		{"octostore_sessions_live", nil, 0},
		{"octostore_lock_waiters", nil, 0},
		{"octostore_webhook_deliveries_total", nil, 4},
		{"octostore_webhook_delivery_failures_total", nil, 1},
		{"octostore_webhook_lag_events", nil, 0},
		{"octostore_raft_state", map[string]string{"state": "leader"}, 1},
		{"octostore_raft_term", nil, 1},
		{"octostore_ready", nil, 1},
		{"octostore_raft_commit_index", nil, 1},
		{"octostore_raft_applied_index", nil, 1},
		{"octostore_raft_last_contact_seconds", nil, 0},
		{"octostore_raft_log_store_seconds", nil, 1},
		{"octostore_fsm_apply_seconds", nil, 1},
		{"octostore_snapshot_persist_seconds", nil, 0},
		{"octostore_snapshot_last_size_bytes", nil, 0},
		{"octostore_http_requests_in_flight", nil, 0},
		{"octostore_http_requests_waiting", nil, 0},
		{"go_goroutines", nil, 1},
		{"process_resident_memory_bytes", nil, 1},
	} {
		if v, ok := value(fams, want.name, want.labels); !ok || v < want.min {
			t.Errorf("%s%v = %v (present %v), want >= %v", want.name, want.labels, v, ok, want.min)
		}
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, lp := range m.Label {
				if strings.Contains(lp.GetValue(), "ops/") {
					t.Errorf("%s has a lock name in a label: %s=%s", f.GetName(), lp.GetName(), lp.GetValue())
				}
			}
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"request"`) || !strings.Contains(out, `"route":"/locks/{name}/acquire"`) {
		t.Fatalf("no debug request lines in the log:\n%.2000s", out)
	}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("a secret (%.6s…) is in the log", s)
		}
	}
}

func TestOps_MetricsToken(t *testing.T) {
	srv := apitest.StartServerWith(t, "", func(c *server.Config) { c.MetricsToken = metricsToken })
	c := apitest.New(t, "http://"+srv.Addr())
	wantError(t, c.Do("GET", "/metrics", "", nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, c.Do("GET", "/metrics", alice, nil), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, c.Do("GET", "/metrics", metricsToken, nil), http.StatusOK)
	r := c.Get("/ready", "", nil)
	wantStatus(t, r, http.StatusOK)
}
