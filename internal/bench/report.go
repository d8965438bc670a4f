package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// OpStats summarizes one operation (acquire or release) over the measured
// window. Count is successful requests; Errors is failed ones. Latencies are
// exact nearest-rank percentiles over the successful requests.
type OpStats struct {
	Count  int64         `json:"count"`
	Errors int64         `json:"errors"`
	P50    time.Duration `json:"p50_ns"`
	P99    time.Duration `json:"p99_ns"`
	P999   time.Duration `json:"p999_ns"`
	Max    time.Duration `json:"max_ns"`
}

// Report is the outcome of one Run. Durations marshal to JSON as integer
// nanoseconds.
type Report struct {
	Concurrency  int           `json:"concurrency"`
	Duration     time.Duration `json:"duration_ns"` // measured window that actually elapsed
	Cycles       int64         `json:"cycles"`      // acquire+release pairs that both succeeded
	CyclesPerSec float64       `json:"cycles_per_sec"`
	Acquire      OpStats       `json:"acquire"`
	Release      OpStats       `json:"release"`
	Errors       int64         `json:"errors"`                // cycles that failed (non-2xx, transport error, fencing token regression)
	FirstError   string        `json:"first_error,omitempty"` // first error text seen, for the operator; may date from warm-up
	// MinWorkerCycles and MaxWorkerCycles show how evenly the workers
	// were served: a fair queue keeps them close.
	MinWorkerCycles int64 `json:"min_worker_cycles"`
	MaxWorkerCycles int64 `json:"max_worker_cycles"`
	// Contended runs share one lock; Violations counts grants seen while
	// another worker held it, or with a token not above the last.
	Contended  bool  `json:"contended"`
	Violations int64 `json:"violations"`
	// Limit is the semaphore workload's (its Violations: more workers
	// holding a slot at once than the limit); Shared the shared workload.
	Limit  int  `json:"limit,omitempty"`
	Shared bool `json:"shared,omitempty"`
}

// limitsHint explains 429s: a benchmark is one user doing what many
// would, which the server's per-user limits are there to stop.
const limitsHint = "the server limits each user; to benchmark, start it with " +
	"OCTOSTORE_RATE_LIMIT=0 OCTOSTORE_MAX_LOCKS_PER_USER=0 OCTOSTORE_MAX_SESSIONS_PER_USER=0 " +
	"OCTOSTORE_MAX_IN_FLIGHT_PER_USER=0"

// WriteText writes r as a human-readable table, latencies in milliseconds.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "concurrency\t%d\n", r.Concurrency)
	fmt.Fprintf(tw, "duration\t%s\n", r.Duration.Round(time.Millisecond))
	fmt.Fprintf(tw, "cycles\t%d\t(%.1f/s)\n", r.Cycles, r.CyclesPerSec)
	fmt.Fprintf(tw, "errors\t%d\n", r.Errors)
	fmt.Fprintf(tw, "per worker\t%d..%d cycles\n", r.MinWorkerCycles, r.MaxWorkerCycles)
	if r.Contended {
		fmt.Fprintf(tw, "contended\tone lock, FIFO waits; %d exclusion or token violations\n", r.Violations)
	}
	if r.Limit > 0 {
		fmt.Fprintf(tw, "semaphore\tone name, %d slots, FIFO waits; %d over-limit violations\n", r.Limit, r.Violations)
	}
	if r.Shared {
		fmt.Fprintf(tw, "shared\tone name, every worker a shared holder (a session each)\n")
	}
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first error\t%s\n", r.FirstError)
	}
	if strings.Contains(r.FirstError, "HTTP 429") {
		fmt.Fprintf(tw, "note\t%s\n", limitsHint)
	}
	fmt.Fprintf(tw, "\nop\tcount\terrors\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\n")
	writeOpRow(tw, "acquire", r.Acquire)
	writeOpRow(tw, "release", r.Release)
	return tw.Flush() // tabwriter buffers everything, so write errors surface here
}

func writeOpRow(w io.Writer, op string, s OpStats) {
	fmt.Fprintf(w, "%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%.3f\n",
		op, s.Count, s.Errors, millis(s.P50), millis(s.P99), millis(s.P999), millis(s.Max))
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// WriteJSON writes r as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
