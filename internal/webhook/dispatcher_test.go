package webhook_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/webhook"
)

var errCommit = errors.New("test: commit refused")

// failOnce refuses the first command of T, then lets all through.
func failOnce[T state.Command](s *fakeStore) {
	refused := false
	s.setFail(func(c state.Command) error {
		if _, ok := c.(T); ok && !refused {
			refused = true
			return errCommit
		}
		return nil
	})
}

func isCmd[T state.Command](c state.Command) bool { _, ok := c.(T); return ok }

// TestDispatcher_FailureRunCommittedDespiteRefusal: the start of a
// failure run must be committed (the deactivation window survives
// leader changes); a refused commit is logged and tried again at the
// next failure.
func TestDispatcher_FailureRunCommittedDespiteRefusal(t *testing.T) {
	var logs apitest.LogBuffer
	s := newFakeStore()
	failOnce[state.WebhookFailing](s)
	s, rcv, hook, _ := setupWith(t, s, webhook.Config{RetryMin: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rcv.Set(func(r *apitest.Receiver) { r.Status = http.StatusInternalServerError })
	s.must(t, state.Acquire{Name: "a", LeaseID: newID(), HolderID: owner, TTL: time.Minute})
	poll.Until(t, 10*time.Second, "the failure run is committed", func() bool { return s.webhook(hook).FailingSince != 0 })
	if !strings.Contains(logs.String(), "recording a webhook's failure run") {
		t.Fatalf("the refused commit was not logged:\n%s", logs.String())
	}
}

// TestDispatcher_DeactivationRetriedAfterRefusal: a refused deactivation
// leaves the webhook active and retrying, and is tried again until it
// commits.
func TestDispatcher_DeactivationRetriedAfterRefusal(t *testing.T) {
	var logs apitest.LogBuffer
	s := newFakeStore()
	failOnce[state.DeactivateWebhook](s)
	s, rcv, hook, _ := setupWith(t, s, webhook.Config{RetryMin: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond,
		FailureWindow: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rcv.Set(func(r *apitest.Receiver) { r.Status = http.StatusInternalServerError })
	s.must(t, state.Acquire{Name: "a", LeaseID: newID(), HolderID: owner, TTL: time.Minute})
	poll.Until(t, 10*time.Second, "the webhook is deactivated", func() bool { return !s.webhook(hook).Active })
	if !strings.Contains(logs.String(), "deactivating a failing webhook") {
		t.Fatalf("the refused deactivation was not logged:\n%s", logs.String())
	}
	if n := s.count(isCmd[state.DeactivateWebhook]); n != 1 {
		t.Fatalf("%d deactivations committed, want 1", n)
	}
}

// TestDispatcher_DeliversInOrder: each event is delivered once, in the
// log's order, with its payload and a delivery ID derived from webhook
// and sequence number; the cursor is committed.
func TestDispatcher_DeliversInOrder(t *testing.T) {
	s, rcv, hook, _ := setup(t, webhook.Config{AckInterval: 5 * time.Millisecond})
	lease := newID()
	s.must(t, state.Acquire{Name: "a", LeaseID: lease, HolderID: owner, TTL: time.Minute})
	s.must(t, state.Renew{Name: "a", LeaseID: lease, HolderID: owner, TTL: time.Minute})
	s.must(t, state.Release{Name: "a", LeaseID: lease, HolderID: owner})
	s.must(t, state.Acquire{Name: "b", LeaseID: newID(), HolderID: owner, TTL: time.Minute})
	got := rcv.WaitFor(t, 4, 10*time.Second)
	want := []struct{ event, lock string }{{"acquired", "a"}, {"renewed", "a"}, {"released", "a"}, {"acquired", "b"}}
	for i, w := range want {
		p := got[i].Payload
		if p.Event != w.event || p.Lock != w.lock || p.HolderID != owner {
			t.Fatalf("delivery %d: %+v, want %s %s", i, p, w.event, w.lock)
		}
		if id := got[i].Header.Get("X-OctoStore-Delivery"); id != webhook.DeliveryID(hook, uint64(i+1)).String() {
			t.Fatalf("delivery %d: ID %s, want the one of seq %d", i, id, i+1)
		}
	}
	poll.Until(t, 10*time.Second, "the cursor is committed", func() bool { return s.webhook(hook).Cursor == 4 })
}

// timedObserver records when each attempt ended.
type timedObserver struct {
	mu    sync.Mutex
	fails []time.Time
	oks   int
}

func (o *timedObserver) Delivered(time.Duration) { o.mu.Lock(); o.oks++; o.mu.Unlock() }
func (o *timedObserver) DeliveryFailed() {
	o.mu.Lock()
	o.fails = append(o.fails, time.Now())
	o.mu.Unlock()
}

func (o *timedObserver) snapshot() ([]time.Time, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]time.Time(nil), o.fails...), o.oks
}

// TestDispatcher_RetriesWithBackoff: a failing event is retried, with the
// same delivery ID, after waits that double up to RetryMax (each
// jittered down to no less than half), until it is accepted; then the
// failure run ends.
func TestDispatcher_RetriesWithBackoff(t *testing.T) {
	obs := &timedObserver{}
	minWait, maxWait := 20*time.Millisecond, 40*time.Millisecond
	s, rcv, hook, _ := setup(t, webhook.Config{RetryMin: minWait, RetryMax: maxWait, AckInterval: 5 * time.Millisecond, Observer: obs})
	rcv.Set(func(r *apitest.Receiver) { r.FailN = 4 })
	s.must(t, state.Acquire{Name: "a", LeaseID: newID(), HolderID: owner, TTL: time.Minute})
	rcv.WaitFor(t, 1, 10*time.Second)
	attempts := rcv.Attempts()
	if len(attempts) != 5 {
		t.Fatalf("%d attempts, want 4 failures and 1 success", len(attempts))
	}
	for _, a := range attempts {
		if a.Header.Get("X-OctoStore-Delivery") != attempts[0].Header.Get("X-OctoStore-Delivery") {
			t.Fatal("a retry changed the delivery ID")
		}
	}
	poll.Until(t, 10*time.Second, "the success is observed", func() bool { _, oks := obs.snapshot(); return oks == 1 })
	fails, _ := obs.snapshot()
	wait := minWait
	for i := 1; i < len(fails); i++ {
		if gap := fails[i].Sub(fails[i-1]); gap < wait/2 {
			t.Errorf("retry %d after %v, want at least %v", i, gap, wait/2)
		}
		wait = min(2*wait, maxWait)
	}
	poll.Until(t, 10*time.Second, "the failure run ends", func() bool {
		w := s.webhook(hook)
		return w.Cursor == 1 && w.FailingSince == 0
	})
}

// TestDispatcher_DeactivatesAfterFailureWindow: a webhook failing for the
// whole window is deactivated, with the reason, and no sooner.
func TestDispatcher_DeactivatesAfterFailureWindow(t *testing.T) {
	window := 100 * time.Millisecond
	s, rcv, hook, _ := setup(t, webhook.Config{RetryMin: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond, FailureWindow: window})
	rcv.Set(func(r *apitest.Receiver) { r.Status = http.StatusServiceUnavailable })
	s.must(t, state.Acquire{Name: "a", LeaseID: newID(), HolderID: owner, TTL: time.Minute})
	poll.Until(t, 10*time.Second, "the webhook is deactivated", func() bool { return !s.webhook(hook).Active })
	deactivated := time.Now()
	w := s.webhook(hook)
	if !strings.Contains(w.InactiveReason, "deliveries failed for 100ms") {
		t.Fatalf("reason %q", w.InactiveReason)
	}
	if ran := deactivated.Sub(time.Unix(0, w.FailingSince)); ran < window {
		t.Fatalf("deactivated %v after the first failure, before the %v window", ran, window)
	}
	if len(rcv.Accepted()) != 0 || len(rcv.Attempts()) < 2 {
		t.Fatalf("%d attempts, %d accepted: want retries, none accepted", len(rcv.Attempts()), len(rcv.Accepted()))
	}
}

// TestDispatcher_StopsOnDelete: deleting a webhook stops its retries and
// its deliveries at once, not at the end of a backoff or the window.
func TestDispatcher_StopsOnDelete(t *testing.T) {
	s, rcv, hook, _ := setup(t, webhook.Config{RetryMin: 5 * time.Millisecond, RetryMax: 5 * time.Millisecond})
	rcv.Set(func(r *apitest.Receiver) { r.Status = http.StatusInternalServerError })
	s.must(t, state.Acquire{Name: "a", LeaseID: newID(), HolderID: owner, TTL: time.Minute})
	poll.Until(t, 10*time.Second, "retries", func() bool { return len(rcv.Attempts()) >= 2 })
	s.must(t, state.DeleteWebhook{ID: hook, UserID: owner})
	rcv.Set(func(r *apitest.Receiver) { r.Status = 0 })
	n := len(rcv.Attempts()) // one attempt may already be on its way
	s.must(t, state.Acquire{Name: "b", LeaseID: newID(), HolderID: owner, TTL: time.Minute})
	// 40 retry intervals: a worker still running would have tried again.
	if poll.Wait(200*time.Millisecond, func() bool { return len(rcv.Attempts()) > n+1 }) {
		t.Fatalf("%d attempts after the delete, want at most 1", len(rcv.Attempts())-n)
	}
}
