// Package metrics is OctoStore's Prometheus instrumentation: its own
// registry (never the global one), request counters and latency
// histograms by route pattern, Raft and state gauges read at scrape time,
// and the timings the cluster and webhook layers report through their
// Observer interfaces.
package metrics
