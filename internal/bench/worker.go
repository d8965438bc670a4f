package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// transportErrorBackoff keeps a worker from spinning when the server is
// unreachable: a refused connection fails in microseconds, and a tight retry
// loop would steal the CPU the server under test needs.
const transportErrorBackoff = 10 * time.Millisecond

// window is the run's timeline: cycles starting before measureFrom are
// warm-up, and no cycle starts at or after end.
type window struct {
	measureFrom time.Time
	end         time.Time
}

// opRecorder collects one operation's measured outcomes for one worker.
// Exact samples are kept (8 bytes each) and sorted once at the end, which
// is cheaper per request than any concurrent histogram.
type opRecorder struct {
	latencies []time.Duration
	errors    int64
}

func (r *opRecorder) observe(record bool, elapsed time.Duration, err error) {
	if !record {
		return
	}
	if err != nil {
		r.errors++
		return
	}
	r.latencies = append(r.latencies, elapsed)
}

// worker runs cycles sequentially. All its fields are owned by its goroutine
// until Run has waited for it, so no synchronization is needed.
type worker struct {
	client     *lockClient
	window     window
	namePrefix string // "<prefix>/w<id>/"
	seq        int64
	scratch    bytes.Buffer // response bodies, reused across requests

	highestToken int64
	seenToken    bool

	acquire, release opRecorder
	cycles           int64
	cycleErrors      int64
	firstErr         error
	firstErrAt       time.Time

	// The workloads on one name: the contended one (all workers wait for
	// one lock, each with a session of its own, created before its first
	// cycle), the semaphore's and the shared one (a session each too).
	id        int
	contended *contention // nil but for the contended workload
	slots     *slotCheck  // nil but for the semaphore workload
	name      string      // the one name, "" for fresh names
	session   bool        // the worker needs a session of its own
	wait      time.Duration
	body      []byte // this worker's acquire body
}

func newWorker(id int, cfg Config, client *lockClient, win window, one oneName) *worker {
	const initialSamples = 4096
	w := &worker{
		client:     client,
		window:     win,
		namePrefix: cfg.Prefix + "/w" + strconv.Itoa(id) + "/",
		id:         id, contended: one.contended, slots: one.slots, wait: cfg.Wait,
		body: client.acquireBody,
	}
	switch {
	case one.contended != nil:
		w.name, w.session = one.contended.name, true
	case one.slots != nil:
		w.name, w.body = one.slots.name, client.slotBody(cfg.Limit, cfg.Wait)
	case one.sharedName != "":
		w.name, w.session = one.sharedName, true
	}
	w.acquire.latencies = make([]time.Duration, 0, initialSamples)
	w.release.latencies = make([]time.Duration, 0, initialSamples)
	return w
}

func (w *worker) run(ctx context.Context) {
	if w.session && !w.joinSession(ctx) {
		return
	}
	for ctx.Err() == nil {
		start := time.Now()
		if !start.Before(w.window.end) {
			return
		}
		measured := !start.Before(w.window.measureFrom)
		err := w.cycle(ctx, measured)
		if err == nil {
			if measured {
				w.cycles++
			}
			continue
		}
		if ctx.Err() != nil {
			return // failure caused by our own stop, not by the server
		}
		w.noteError(err, measured)
		if isTransportError(err) {
			pause(ctx, transportErrorBackoff)
		}
	}
}

// cycle acquires a fresh lock and releases it. The lock is released even
// when its fencing token is bad, so a failed check does not leak locks.
func (w *worker) cycle(ctx context.Context, measured bool) error {
	name := w.nextName()
	began := time.Now()
	lease, err := w.client.acquire(ctx, name, w.body, &w.scratch)
	w.acquire.observe(measured && ctx.Err() == nil, time.Since(began), err)
	if err != nil {
		return err
	}
	tokenErr := w.checkFencingToken(name, lease.FencingToken)
	if w.contended != nil {
		tokenErr = errors.Join(tokenErr, w.contended.enter(w.id, lease.FencingToken))
		w.contended.leave()
	}
	if w.slots != nil {
		tokenErr = errors.Join(tokenErr, w.slots.enter(w.id))
		w.slots.leave()
	}
	began = time.Now()
	err = w.client.release(ctx, name, lease.LeaseID, &w.scratch)
	w.release.observe(measured && ctx.Err() == nil, time.Since(began), err)
	return errors.Join(tokenErr, err)
}

func (w *worker) nextName() string {
	if w.name != "" {
		return w.name
	}
	w.seq++
	return w.namePrefix + strconv.FormatInt(w.seq, 10)
}

// joinSession gives the worker its own session, so that workers sharing
// one token are distinct holders of the contended lock or the shared one.
func (w *worker) joinSession(ctx context.Context) bool {
	session, err := w.client.createSession(ctx, &w.scratch)
	if err != nil {
		w.noteError(err, true)
		return false
	}
	if w.contended != nil {
		w.body = w.client.waitingBody(session, w.wait)
	} else {
		w.body = w.client.sharedBody(session)
	}
	return true
}

// checkFencingToken enforces that the tokens this worker receives strictly
// increase. The server's counter is global, so even across distinct lock
// names a later grant must carry a larger token; anything else means the
// server handed out a stale or reused token.
func (w *worker) checkFencingToken(name string, token int64) error {
	if w.seenToken && token <= w.highestToken {
		return fmt.Errorf("acquire %s: fencing token regressed: got %d after %d", name, token, w.highestToken)
	}
	w.highestToken, w.seenToken = token, true
	return nil
}

// noteError counts failures only inside the measured window, but remembers
// the first failure from any phase: an error seen during warm-up (bad token,
// wrong URL) is exactly what the operator needs to see.
func (w *worker) noteError(err error, measured bool) {
	if measured {
		w.cycleErrors++
	}
	if w.firstErr == nil {
		w.firstErr, w.firstErrAt = err, time.Now()
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
