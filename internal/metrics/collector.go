package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/state"
)

// Source is what the scrape-time gauges read: the node's state (locally,
// never through Raft) and its Raft counters.
type Source interface {
	Read(ctx context.Context, stale bool, fn func(s state.View, now int64)) error
	RaftStats() cluster.RaftStats
	Readiness() cluster.Readiness
}

// view is what one scrape reads.
type view struct {
	n     state.Counts
	r     cluster.RaftStats
	ready bool
}

// gaugeDef is one scrape-time gauge and how to read it.
type gaugeDef struct {
	desc  *prometheus.Desc
	value func(v *view) float64
}

func def(name, help string, value func(v *view) float64) gaugeDef {
	return gaugeDef{prometheus.NewDesc(ns+"_"+name, help, nil, nil), value}
}

var gauges = []gaugeDef{
	def("locks_held", "Locks held (stored and not yet expired away).", func(v *view) float64 { return float64(v.n.Locks) }),
	def("sessions_live", "Sessions not ended.", func(v *view) float64 { return float64(v.n.Sessions) }),
	def("lock_waiters", "Acquires queued behind a holder.", func(v *view) float64 { return float64(v.n.Waiters) }),
	def("users", "Known users.", func(v *view) float64 { return float64(v.n.Users) }),
	def("webhooks", "Registered webhooks.", func(v *view) float64 { return float64(v.n.Webhooks) }),
	def("webhook_lag_events", "Events the furthest-behind active webhook has not had committed as delivered.",
		func(v *view) float64 { return float64(v.n.WebhookLag) }),
	def("last_event_seq", "Sequence number of the newest lock event.", func(v *view) float64 { return float64(v.n.LastEvent) }),
	def("raft_term", "Current Raft term.", func(v *view) float64 { return float64(v.r.Term) }),
	def("raft_last_log_index", "Index of the last entry in this node's log.", func(v *view) float64 { return float64(v.r.LastIndex) }),
	def("raft_commit_index", "Highest index this node knows to be committed.", func(v *view) float64 { return float64(v.r.Commit) }),
	def("raft_applied_index", "Highest index applied to the state machine.", func(v *view) float64 { return float64(v.r.Applied) }),
	def("raft_last_contact_seconds", "Seconds since a follower last heard from the leader (0 on the leader).",
		func(v *view) float64 { return v.r.LastContact.Seconds() }),
	def("raft_leader_known", "1 when this node knows a leader.", func(v *view) float64 { return boolf(v.r.LeaderKnown) }),
	def("ready", "1 when GET /ready answers 200: this node can serve linearizable requests.",
		func(v *view) float64 { return boolf(v.ready) }),
	def("raft_ready_leader", "1 when this node is the leader and has applied its leadership barrier.",
		func(v *view) float64 { return boolf(v.r.ReadyLeader) }),
}

var descRaftState = prometheus.NewDesc(ns+"_raft_state", "1 for this node's current Raft role.", []string{"state"}, nil)

// nodeCollector reads its gauges when scraped: a stale read of the
// state's counts (O(1) each) and raft's counters.
type nodeCollector struct{ node Source }

// Describe lists every gauge the collector reports.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, g := range gauges {
		ch <- g.desc
	}
	ch <- descRaftState
}

// Collect reads the gauges now.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	v := &view{r: c.node.RaftStats(), ready: c.node.Readiness().Ready}
	c.node.Read(context.Background(), true, func(s state.View, _ int64) { v.n = s.Counts() })
	for _, g := range gauges {
		gauge(ch, g.desc, g.value(v))
	}
	for _, s := range []string{"leader", "follower", "candidate", "shutdown"} {
		gauge(ch, descRaftState, boolf(v.r.State == s), s)
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
