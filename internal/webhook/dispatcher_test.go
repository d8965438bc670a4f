package webhook_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
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
