package webhook

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
)

// Store is what delivery needs from the replicated state.
type Store interface {
	Apply(ctx context.Context, cmd state.Command) (state.Result, error)
	Read(ctx context.Context, stale bool, fn func(s state.View, now int64)) error
	Changed() <-chan struct{}
}

// Config tunes delivery; zero values take the defaults.
type Config struct {
	AllowPrivate  bool           // let webhooks target special-purpose addresses (loopback, private, ...)
	RootCAs       *x509.CertPool // trusted CAs; nil is the system's
	Timeout       time.Duration  // one attempt; default 5 s
	RetryMin      time.Duration  // first retry; default 1 s
	RetryMax      time.Duration  // longest wait between attempts; default 5 min
	FailureWindow time.Duration  // failing this long deactivates; default 24 h
	AckInterval   time.Duration  // how often cursors are committed; default 250 ms
	Resolver      Resolver       // default net.DefaultResolver
	UserAgent     string
	Logger        *slog.Logger
	Observer      Observer // counts deliveries; nil for none
	// Tenancy confines each webhook to the names its owner may read; nil
	// is shared (every webhook sees every matching lock).
	Tenancy *tenancy.Policy
}

// Observer counts delivery attempts (internal/metrics implements it).
type Observer interface {
	// Delivered is an attempt the receiver accepted, with its duration.
	Delivered(d time.Duration)
	// DeliveryFailed is an attempt that failed (it will be retried).
	DeliveryFailed()
}

type nopObserver struct{}

func (nopObserver) Delivered(time.Duration) {}
func (nopObserver) DeliveryFailed()         {}

func (c *Config) defaults() {
	c.Timeout = cmpOr(c.Timeout, 5*time.Second)
	c.RetryMin = cmpOr(c.RetryMin, time.Second)
	c.RetryMax = cmpOr(c.RetryMax, 5*time.Minute)
	c.FailureWindow = cmpOr(c.FailureWindow, 24*time.Hour)
	c.AckInterval = cmpOr(c.AckInterval, 250*time.Millisecond)
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
}

func cmpOr(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Dispatcher delivers events to every active webhook while its node leads.
type Dispatcher struct {
	cfg    Config
	store  Store
	guard  guard
	poster *poster
	log    *slog.Logger

	mu    sync.Mutex
	acks  map[uuid.UUID]uint64 // cursors delivered but not yet committed
	kicks chan struct{}        // a worker has something to commit
}

// New returns a dispatcher; call Run on the leader.
func New(store Store, cfg Config) *Dispatcher {
	cfg.defaults()
	g := guard{allowPrivate: cfg.AllowPrivate, resolver: cfg.Resolver}
	return &Dispatcher{cfg: cfg, store: store, guard: g, log: cfg.Logger,
		poster: newPoster(g, cfg.RootCAs, cfg.Timeout, cfg.UserAgent),
		acks:   map[uuid.UUID]uint64{}, kicks: make(chan struct{}, 1)}
}

// CheckURL validates a webhook target for registration.
func (d *Dispatcher) CheckURL(ctx context.Context, raw string) error {
	return d.guard.checkURL(ctx, raw)
}

// Run delivers until ctx ends (leadership lost or shutdown): one worker
// per active webhook, started and stopped as webhooks come and go, and a
// committer for their cursors.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	workers := map[uuid.UUID]context.CancelFunc{}
	wg.Add(1)
	go func() { defer wg.Done(); d.commitAcks(ctx) }()
	for ctx.Err() == nil {
		changed := d.store.Changed()
		d.reconcile(ctx, &wg, workers)
		select {
		case <-changed:
		case <-ctx.Done():
		}
		// Coalesce bursts of changes: webhooks change rarely, events often.
		sleep(ctx, 50*time.Millisecond)
	}
	for _, stop := range workers {
		stop()
	}
	wg.Wait()
}

// reconcile starts a worker for each active webhook without one and stops
// those whose webhook was deleted or deactivated.
func (d *Dispatcher) reconcile(ctx context.Context, wg *sync.WaitGroup, workers map[uuid.UUID]context.CancelFunc) {
	active := map[uuid.UUID]state.Webhook{}
	d.store.Read(ctx, true, func(s state.View, _ int64) {
		for _, w := range s.WebhooksOf(uuid.Nil) {
			if w.Active {
				active[w.ID] = w
			}
		}
	})
	for id, stop := range workers {
		if _, ok := active[id]; !ok {
			stop()
			delete(workers, id)
		}
	}
	for id, w := range active {
		if _, running := workers[id]; !running {
			wctx, stop := context.WithCancel(ctx)
			workers[id] = stop
			wg.Add(1)
			go func() { defer wg.Done(); d.work(wctx, w) }()
		}
	}
}

// work delivers hook's events in order, one at a time.
func (d *Dispatcher) work(ctx context.Context, hook state.Webhook) {
	cursor := hook.Cursor
	for ctx.Err() == nil {
		changed := d.store.Changed()
		events, readable, gap := d.eventsAfter(ctx, hook.UserID, cursor)
		if gap {
			return // the state machine deactivates a webhook it dropped events for
		}
		if len(events) == 0 {
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		for i, e := range events {
			if readable[i] && hook.Wants(e) && !d.deliver(ctx, &hook, e) {
				return
			}
			cursor = e.Seq
			d.ack(hook.ID, cursor)
		}
	}
}

func (d *Dispatcher) stillActive(ctx context.Context, id uuid.UUID) bool {
	active := false
	d.store.Read(ctx, true, func(s state.View, _ int64) {
		w, ok := s.GetWebhook(id)
		active = ok && w.Active
	})
	return active
}

// eventsAfter reads the events after cursor, and which of them the
// webhook's owner may read (isolated tenancy: only its namespaces, as
// they are now). Its pattern is matched within those only.
func (d *Dispatcher) eventsAfter(ctx context.Context, owner uuid.UUID, cursor uint64) (events []state.Event, readable []bool, gap bool) {
	d.store.Read(ctx, true, func(s state.View, now int64) {
		var evs []state.Event
		evs, gap = s.EventsAfter(cursor, 256)
		events = append(events, evs...) // copy: the outbox may move on
		owners := d.cfg.Tenancy.OwnersOf(s, owner, now)
		for _, e := range evs {
			readable = append(readable, owners.Reads(e.Lock))
		}
	})
	return events, readable, gap
}

// deliver retries one event until it is accepted, the webhook is stopped,
// or it has failed for the whole failure window (then it is deactivated).
func (d *Dispatcher) deliver(ctx context.Context, hook *state.Webhook, e state.Event) bool {
	wait := d.cfg.RetryMin
	for {
		if !d.stillActive(ctx, hook.ID) {
			return false // deleted or deactivated: stop at once, not at the next reconcile
		}
		start := time.Now()
		err := d.poster.post(ctx, *hook, e)
		if err == nil {
			d.cfg.Observer.Delivered(time.Since(start))
			hook.FailingSince = 0
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		d.cfg.Observer.DeliveryFailed()
		d.log.Warn("webhook delivery failed", "webhook_id", hook.ID, "host", host(hook.URL), "seq", e.Seq, "err", err)
		if !d.noteFailure(ctx, hook, err) {
			return false
		}
		sleep(ctx, jitter(wait))
		wait = min(2*wait, d.cfg.RetryMax)
	}
}

// noteFailure records the start of a failure run, and deactivates the
// webhook once the run is longer than the failure window. It reports
// whether to keep retrying.
func (d *Dispatcher) noteFailure(ctx context.Context, hook *state.Webhook, err error) bool {
	now := time.Now()
	if hook.FailingSince == 0 {
		// The run's start must be committed, or a restart or a new leader
		// would begin the window again. Uncommitted, it is retried at the
		// next failure.
		if _, err := state.Outcome(d.store.Apply(ctx, state.WebhookFailing{ID: hook.ID})); err != nil {
			d.logCommitFailure(ctx, "recording a webhook's failure run", hook.ID, err)
			return ctx.Err() == nil
		}
		hook.FailingSince = now.UnixNano()
		return true
	}
	if now.Sub(time.Unix(0, hook.FailingSince)) < d.cfg.FailureWindow {
		return true
	}
	reason := fmt.Sprintf("deliveries failed for %v; last error: %v", d.cfg.FailureWindow, err)
	if _, err := state.Outcome(d.store.Apply(ctx, state.DeactivateWebhook{ID: hook.ID, Reason: truncate(reason, 256)})); err != nil {
		// Still active: keep retrying, and deactivating at each failure.
		d.logCommitFailure(ctx, "deactivating a failing webhook", hook.ID, err)
		return ctx.Err() == nil
	}
	d.log.Warn("webhook deactivated", "webhook_id", hook.ID, "reason", reason)
	return false
}

// logCommitFailure logs a change the dispatcher could not commit, unless
// the dispatcher is stopping (leadership lost or shutdown), when failing
// is expected and the next leader carries on.
func (d *Dispatcher) logCommitFailure(ctx context.Context, what string, id uuid.UUID, err error) {
	if ctx.Err() == nil {
		d.log.Warn(what, "webhook_id", id, "err", err)
	}
}

func (d *Dispatcher) ack(id uuid.UUID, seq uint64) {
	d.mu.Lock()
	d.acks[id] = seq
	d.mu.Unlock()
	select {
	case d.kicks <- struct{}{}:
	default:
	}
}

// requeue puts acks that failed to commit back, unless a worker has
// delivered further since.
func (d *Dispatcher) requeue(acks []state.WebhookAck) {
	d.mu.Lock()
	for _, a := range acks {
		d.acks[a.ID] = max(d.acks[a.ID], a.Seq)
	}
	d.mu.Unlock()
	select {
	case d.kicks <- struct{}{}:
	default:
	}
}

// commitAcks commits delivered cursors through Raft, coalescing many
// deliveries into one entry. A crash loses at most the last interval's
// acks: those events are delivered again, with the same delivery IDs.
func (d *Dispatcher) commitAcks(ctx context.Context) {
	for {
		select {
		case <-d.kicks:
		case <-ctx.Done():
			return
		}
		d.mu.Lock()
		cmd := state.AckWebhooks{}
		for id, seq := range d.acks {
			cmd.Acks = append(cmd.Acks, state.WebhookAck{ID: id, Seq: seq})
		}
		clear(d.acks)
		d.mu.Unlock()
		if len(cmd.Acks) == 0 {
			continue // a kick whose acks an earlier round committed
		}
		if _, err := state.Outcome(d.store.Apply(ctx, cmd)); err != nil && ctx.Err() == nil {
			d.log.Warn("committing webhook cursors", "err", err)
			d.requeue(cmd.Acks) // the next round tries them again
		}
		sleep(ctx, d.cfg.AckInterval)
	}
}

// jitter spreads retries over [d/2, d], so receivers coming back are not
// hit by every webhook at once.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// host is what the logs show of a webhook URL: never its path or query,
// which may carry credentials.
func host(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "?"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
