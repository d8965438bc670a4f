package bench

import (
	"context"
	"sync"
	"time"
)

// Run drives acquire+release cycles against cfg.URL for cfg.Warmup plus
// cfg.Duration and reports what happened in the measured window.
//
// Cycles are counted, and their latencies recorded, when they start inside
// the measured window; cycles in flight when the window closes are allowed
// to finish so no lock is left held. If ctx ends first, Run stops promptly
// and returns the partial report together with ctx's error. An invalid
// Config is reported as an error before any request is sent.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return Report{}, err
	}
	client := newLockClient(cfg)
	defer client.close()

	started := time.Now()
	win := window{measureFrom: started.Add(cfg.Warmup)}
	win.end = win.measureFrom.Add(cfg.Duration)
	var one oneName
	switch {
	case cfg.Limit > 0:
		one.slots = &slotCheck{name: cfg.Prefix + "/semaphore", limit: int64(cfg.Limit)}
	case cfg.Shared:
		one.sharedName = cfg.Prefix + "/shared"
	case cfg.Wait > 0:
		one.contended = &contention{name: cfg.Prefix + "/contended"}
	}
	workers := runWorkers(ctx, cfg, client, win, one)
	measured := measuredSpan(win, time.Now())
	r := buildReport(cfg.Concurrency, measured, workers)
	switch {
	case one.contended != nil:
		r.Contended, r.Violations = true, one.contended.violations.Load()
	case one.slots != nil:
		r.Limit, r.Violations = cfg.Limit, one.slots.violations.Load()
	case cfg.Shared:
		r.Shared = true
	}
	return r, ctx.Err()
}

func runWorkers(ctx context.Context, cfg Config, client *lockClient, win window, one oneName) []*worker {
	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := newWorker(i, cfg, client, win, one)
		workers[i] = w
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	return workers
}

// measuredSpan is the part of the window that actually elapsed: all of it
// on a normal run, less when ctx cut the run short.
func measuredSpan(win window, stopped time.Time) time.Duration {
	if stopped.After(win.end) {
		stopped = win.end
	}
	return max(stopped.Sub(win.measureFrom), 0)
}

func buildReport(concurrency int, measured time.Duration, workers []*worker) Report {
	r := Report{Concurrency: concurrency, Duration: measured}
	acquires := make([]*opRecorder, len(workers))
	releases := make([]*opRecorder, len(workers))
	var firstAt time.Time
	r.MinWorkerCycles = -1
	for i, w := range workers {
		r.Cycles += w.cycles
		if r.MinWorkerCycles < 0 || w.cycles < r.MinWorkerCycles {
			r.MinWorkerCycles = w.cycles
		}
		r.MaxWorkerCycles = max(r.MaxWorkerCycles, w.cycles)
		r.Errors += w.cycleErrors
		acquires[i], releases[i] = &w.acquire, &w.release
		if w.firstErr != nil && (firstAt.IsZero() || w.firstErrAt.Before(firstAt)) {
			r.FirstError, firstAt = w.firstErr.Error(), w.firstErrAt
		}
	}
	r.Acquire = summarize(acquires)
	r.Release = summarize(releases)
	if measured > 0 {
		r.CyclesPerSec = float64(r.Cycles) / measured.Seconds()
	}
	return r
}
