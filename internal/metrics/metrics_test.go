package metrics_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/metrics"
	"github.com/octostore/octostore/internal/state"
)

// scrape reads m's exposition as a client would, and parses it.
func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	m.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	return fams
}

// sample is the one sample of family name with exactly labels: a
// counter's or gauge's value, a histogram's count.
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	for _, m := range f.Metric {
		if !labelsAre(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("%s has no sample labelled %v", name, labels)
	return 0
}

func labelsAre(m *dto.Metric, want map[string]string) bool {
	if len(m.Label) != len(want) {
		return false
	}
	for _, lp := range m.Label {
		if want[lp.GetName()] != lp.GetValue() {
			return false
		}
	}
	return true
}

// TestObserveRequest_CountsByRouteMethodCode: each answered request adds
// to its route, method and code, and to the latency histogram of its
// route and method; a made-up method is "other"; a 499 (the client left)
// is its own code, not a 5xx.
func TestObserveRequest_CountsByRouteMethodCode(t *testing.T) {
	m := metrics.New("test")
	m.ObserveRequest("/locks/{name}", "GET", 200, time.Millisecond)
	m.ObserveRequest("/locks/{name}", "GET", 200, time.Millisecond)
	m.ObserveRequest("/locks/{name}/acquire", "POST", 499, time.Second)
	m.ObserveRequest("/locks/{name}", "BREW", 405, time.Millisecond)
	fams := scrape(t, m)
	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"/locks/{name}", "GET", "200", 2},
		{"/locks/{name}/acquire", "POST", "499", 1},
		{"/locks/{name}", "other", "405", 1},
	} {
		got := sample(t, fams, "octostore_http_requests_total", map[string]string{"route": c.route, "method": c.method, "code": c.code})
		if got != c.want {
			t.Errorf("%s %s %s: %v, want %v", c.method, c.route, c.code, got, c.want)
		}
	}
	if got := sample(t, fams, "octostore_http_request_duration_seconds", map[string]string{"route": "/locks/{name}", "method": "GET"}); got != 2 {
		t.Errorf("latency count %v, want 2", got)
	}
	for _, s := range fams["octostore_http_requests_total"].Metric {
		for _, lp := range s.Label {
			if lp.GetName() == "code" && lp.GetValue() >= "500" {
				t.Errorf("a 5xx series: %v", s.Label)
			}
		}
	}
}

// TestObservers_UpdateTheirSeries: the cluster and webhook observers feed
// the series named after them, and only those.
func TestObservers_UpdateTheirSeries(t *testing.T) {
	m := metrics.New("v1.2.3")
	m.LogStored(3, time.Millisecond)
	m.Applied(2, time.Millisecond, cluster.EventTally{Acquired: 3, Renewed: 1, Released: 2})
	m.Applied(1, time.Millisecond, cluster.EventTally{Expired: 4})
	m.SnapshotPersisted(4096, time.Millisecond)
	m.Refused()
	m.Refused()
	m.Delivered(time.Millisecond)
	m.Delivered(time.Millisecond)
	m.DeliveryFailed()
	fams := scrape(t, m)
	none := map[string]string{}
	for name, want := range map[string]float64{
		"octostore_raft_log_store_seconds":          1,
		"octostore_fsm_apply_seconds":               2,
		"octostore_fsm_applied_entries_total":       3,
		"octostore_refusals_without_write_total":    2,
		"octostore_snapshot_persist_seconds":        1,
		"octostore_snapshot_last_size_bytes":        4096,
		"octostore_webhook_deliveries_total":        2,
		"octostore_webhook_delivery_failures_total": 1,
		"octostore_webhook_delivery_seconds":        2,
	} {
		if got := sample(t, fams, name, none); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	for event, want := range map[string]float64{"acquired": 3, "renewed": 1, "released": 2, "expired": 4} {
		if got := sample(t, fams, "octostore_lock_events_total", map[string]string{"event": event}); got != want {
			t.Errorf("%s events: %v, want %v", event, got, want)
		}
	}
	if got := sample(t, fams, "octostore_build_info", map[string]string{"version": "v1.2.3"}); got != 1 {
		t.Errorf("build_info %v", got)
	}
}

// source is a node as the scrape-time gauges see it.
type source struct {
	st    *state.State
	stats cluster.RaftStats
	ready bool
}

func (s source) Read(_ context.Context, _ bool, fn func(state.View, int64)) error {
	fn(s.st.View(), s.st.LastNow())
	return nil
}
func (s source) RaftStats() cluster.RaftStats { return s.stats }
func (s source) Readiness() cluster.Readiness { return cluster.Readiness{Ready: s.ready} }

// TestWatch_ReadsTheNodeAtScrape: the gauges show the state's counts and
// raft's counters as they are when scraped, and one raft_state series
// is 1.
func TestWatch_ReadsTheNodeAtScrape(t *testing.T) {
	st := state.New()
	user := uuid.New()
	st.Apply(state.Batch{Now: time.Now().UnixNano(), Skew: time.Second, Commands: []state.Command{
		state.SyncStaticUsers{Users: []state.StaticUser{{ID: user, Login: "u"}}},
		state.Acquire{Name: "a", LeaseID: uuid.New(), HolderID: user, TTL: time.Minute},
		state.Acquire{Name: "b", LeaseID: uuid.New(), HolderID: user, TTL: time.Minute},
	}})
	m := metrics.New("test")
	m.Watch(source{st: st, ready: true, stats: cluster.RaftStats{State: "follower", Term: 7, Commit: 9, Applied: 8, LeaderKnown: true}})
	fams := scrape(t, m)
	none := map[string]string{}
	for name, want := range map[string]float64{
		"octostore_locks_held": 2, "octostore_users": 1, "octostore_last_event_seq": 2,
		"octostore_raft_term": 7, "octostore_raft_commit_index": 9, "octostore_raft_applied_index": 8,
		"octostore_raft_leader_known": 1, "octostore_ready": 1, "octostore_raft_ready_leader": 0,
	} {
		if got := sample(t, fams, name, none); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	for _, role := range []string{"leader", "follower", "candidate", "shutdown"} {
		want := 0.0
		if role == "follower" {
			want = 1
		}
		if got := sample(t, fams, "octostore_raft_state", map[string]string{"state": role}); got != want {
			t.Errorf("raft_state %s: %v, want %v", role, got, want)
		}
	}
}
