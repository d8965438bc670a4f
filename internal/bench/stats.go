package bench

import (
	"slices"
	"time"
)

// summarize merges the per-worker samples for one operation and computes
// exact nearest-rank percentiles.
func summarize(recorders []*opRecorder) OpStats {
	var stats OpStats
	total := 0
	for _, r := range recorders {
		total += len(r.latencies)
		stats.Errors += r.errors
	}
	all := make([]time.Duration, 0, total)
	for _, r := range recorders {
		all = append(all, r.latencies...)
	}
	slices.Sort(all)
	stats.Count = int64(len(all))
	if len(all) == 0 {
		return stats
	}
	stats.P50 = percentile(all, 500)
	stats.P99 = percentile(all, 990)
	stats.P999 = percentile(all, 999)
	stats.Max = all[len(all)-1]
	return stats
}

// percentile returns the nearest-rank value of a sorted, non-empty slice.
// The quantile is given in thousandths so the rank is computed in integers;
// float math like 0.999*1000 can land a hair above 999 and pick the wrong
// sample.
func percentile(sorted []time.Duration, perMille int) time.Duration {
	n := len(sorted)
	rank := (n*perMille + 999) / 1000 // ceil(n * perMille / 1000)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
