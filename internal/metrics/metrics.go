package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/octostore/octostore/internal/cluster"
)

const ns = "octostore"

// Metrics holds the registry and the instruments fed by the other layers.
type Metrics struct {
	reg      *prometheus.Registry
	handler  http.Handler
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	logStore, apply prometheus.Histogram
	applyEntries    prometheus.Counter
	refusals        prometheus.Counter
	events          *prometheus.CounterVec
	// The four children of events, by kind.
	acquired, renewed, released, expired prometheus.Counter
	snapshotSeconds                      prometheus.Histogram
	snapshotBytes                        prometheus.Gauge
	webhookOK, webhookFailed             prometheus.Counter
	webhookSeconds                       prometheus.Histogram
}

// Fast operations: 100 µs to ~6.5 s.
var fastBuckets = prometheus.ExponentialBuckets(0.0001, 2, 17)

// New returns metrics with the Go runtime and process collectors
// registered; Watch adds the scrape-time view of a node.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status code."}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "http_request_duration_seconds",
		Help: "Time to answer HTTP requests (waits included), by route pattern and method.", Buckets: fastBuckets},
		[]string{"route", "method"})
	m.logStore = histogram("raft_log_store_seconds", "Time to write entries to the Raft log, fsync included.")
	m.apply = histogram("fsm_apply_seconds", "Time to apply a group of committed entries to the state machine.")
	m.applyEntries = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "fsm_applied_entries_total",
		Help: "Raft entries applied to the state machine."})
	m.refusals = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "refusals_without_write_total",
		Help: "Commands refused from a linearizable read on the leader, without a log write (a held lock's try-lock, a stale lease)."})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "lock_events_total",
		Help: "Lock events applied: acquired, renewed, released, expired."}, []string{"event"})
	m.snapshotSeconds = histogram("snapshot_persist_seconds", "Time to write a state snapshot to disk.")
	m.snapshotBytes = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "snapshot_last_size_bytes",
		Help: "Size of the last snapshot written."})
	m.webhookOK = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "webhook_deliveries_total",
		Help: "Webhook deliveries the receiver accepted."})
	m.webhookFailed = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "webhook_delivery_failures_total",
		Help: "Webhook delivery attempts that failed (each is retried)."})
	m.webhookSeconds = histogram("webhook_delivery_seconds", "Time of accepted webhook deliveries.")
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "Always 1; the version label says which build runs.", ConstLabels: prometheus.Labels{"version": version}})
	buildInfo.Set(1)
	// Resolved once (and so present at 0 from the start), not per apply.
	m.acquired, m.renewed = m.events.WithLabelValues("acquired"), m.events.WithLabelValues("renewed")
	m.released, m.expired = m.events.WithLabelValues("released"), m.events.WithLabelValues("expired")
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.latency, m.logStore, m.apply, m.applyEntries, m.refusals, m.events, m.snapshotSeconds, m.snapshotBytes,
		m.webhookOK, m.webhookFailed, m.webhookSeconds, buildInfo)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

func histogram(name, help string) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: fastBuckets})
}

// Watch adds the gauges read from node at scrape time.
func (m *Metrics) Watch(node Source) { m.reg.MustRegister(&nodeCollector{node: node}) }

// WatchLoad adds gauges of the requests being served and waiting, read
// from load at scrape time.
func (m *Metrics) WatchLoad(load func() (inFlight, waiting int64)) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "http_requests_in_flight",
			Help: "Requests holding one of --max-in-flight's slots."},
			func() float64 { n, _ := load(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "http_requests_waiting",
			Help: "Waiting acquires and blocking reads holding one of --max-waiting's slots."},
			func() float64 { _, n := load(); return float64(n) }))
}

// ServeHTTP writes the exposition.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.handler.ServeHTTP(w, r) }

// ObserveRequest counts one answered request. route is the route's
// pattern (never a raw path), so label values stay few.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	method = knownMethod(method)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// knownMethod keeps a client's made-up method out of the label values.
func knownMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}

// LogStored implements cluster.Observer.
func (m *Metrics) LogStored(_ int, d time.Duration) { m.logStore.Observe(d.Seconds()) }

// Applied implements cluster.Observer.
func (m *Metrics) Applied(entries int, d time.Duration, t cluster.EventTally) {
	m.apply.Observe(d.Seconds())
	m.applyEntries.Add(float64(entries))
	m.acquired.Add(float64(t.Acquired))
	m.renewed.Add(float64(t.Renewed))
	m.released.Add(float64(t.Released))
	m.expired.Add(float64(t.Expired))
}

// Refused implements cluster.Observer.
func (m *Metrics) Refused() { m.refusals.Inc() }

// SnapshotPersisted implements cluster.Observer.
func (m *Metrics) SnapshotPersisted(bytes int64, d time.Duration) {
	m.snapshotSeconds.Observe(d.Seconds())
	m.snapshotBytes.Set(float64(bytes))
}

// Delivered implements webhook.Observer.
func (m *Metrics) Delivered(d time.Duration) {
	m.webhookOK.Inc()
	m.webhookSeconds.Observe(d.Seconds())
}

// DeliveryFailed implements webhook.Observer.
func (m *Metrics) DeliveryFailed() { m.webhookFailed.Inc() }
