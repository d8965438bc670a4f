package state

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func kinds(evs []Event) (out []string) {
	for _, e := range evs {
		out = append(out, e.Kind.String()+" "+e.Lock)
	}
	return out
}

func TestState_Events(t *testing.T) {
	s := newState(t)
	l := mustApply(t, s, t0, acquire("a", alice, 10*time.Second)).Lock
	mustApply(t, s, t0, acquire("a", alice, 20*time.Second))
	mustApply(t, s, t0, Renew{Name: "a", LeaseID: l.LeaseID, HolderID: alice, TTL: 5 * time.Second})
	mustApply(t, s, t0, Release{Name: "a", LeaseID: l.LeaseID, HolderID: alice})
	mustApply(t, s, t0, acquire("b", bob, time.Second))
	mustApply(t, s, at(2*time.Second), ExpireDue{Limit: 10})
	sess := newSession(t, s, alice, 10*time.Second)
	for _, n := range []string{"s2", "s1"} {
		c := acquire(n, alice, time.Hour)
		c.SessionID = sess.ID
		mustApply(t, s, at(2*time.Second), c)
	}
	mustApply(t, s, at(3*time.Second), DeleteSession{ID: sess.ID, UserID: alice})
	evs, gap := s.EventsAfter(0, 100)
	want := []string{"acquired a", "renewed a", "renewed a", "released a", "acquired b", "expired b",
		"acquired s2", "acquired s1", "released s1", "released s2"}
	if gap || !equal(kinds(evs), want) {
		t.Fatalf("events %v, want %v", kinds(evs), want)
	}
	if evs[0].Seq != 1 || evs[0].Token != l.Token || evs[0].HolderID != alice || evs[0].Time != t0 || s.LastEventSeq() != 10 {
		t.Fatalf("first event %+v, last seq %d", evs[0], s.LastEventSeq())
	}
	if page, _ := s.EventsAfter(8, 1); len(page) != 1 || page[0].Seq != 9 {
		t.Fatalf("page after 8: %+v", page)
	}
}

func TestState_Webhooks(t *testing.T) {
	hook := func(user uuid.UUID) CreateWebhook {
		return CreateWebhook{ID: uuid.New(), UserID: user, URL: "https://example.com/h", Events: AllEvents}
	}
	t.Run("AtMostTenPerUser", func(t *testing.T) {
		s := newState(t)
		for range MaxWebhooksPerUser {
			mustApply(t, s, t0, hook(alice))
		}
		if r := applyAt(s, t0, hook(alice)); !errors.Is(r.Err, ErrTooManyWebhooks) {
			t.Fatalf("11th: %+v", r)
		}
		mustApply(t, s, t0, hook(bob))
	})
	t.Run("StartsAtTheCurrentEventAndOnlyOwnerDeletes", func(t *testing.T) {
		s := newState(t)
		mustApply(t, s, t0, acquire("a", alice, time.Minute))
		w := mustApply(t, s, t0, hook(alice)).Webhook
		if w.Cursor != 1 || !w.Active {
			t.Fatalf("new webhook %+v", w)
		}
		if r := applyAt(s, t0, DeleteWebhook{ID: w.ID, UserID: bob}); !errors.Is(r.Err, ErrWebhookNotFound) {
			t.Fatalf("bob deleted alice's webhook: %+v", r)
		}
		mustApply(t, s, t0, DeleteWebhook{ID: w.ID, UserID: alice})
		if _, ok := s.GetWebhook(w.ID); ok {
			t.Fatal("still there")
		}
	})
	t.Run("AckFailingDeactivate", func(t *testing.T) {
		s := newState(t)
		w := mustApply(t, s, t0, hook(alice)).Webhook
		mustApply(t, s, t0, acquire("a", alice, time.Minute))
		mustApply(t, s, at(time.Second), WebhookFailing{ID: w.ID})
		mustApply(t, s, at(2*time.Second), WebhookFailing{ID: w.ID})
		if got, _ := s.GetWebhook(w.ID); got.FailingSince != at(time.Second) {
			t.Fatalf("failing since %v", got.FailingSince)
		}
		mustApply(t, s, t0, AckWebhooks{Acks: []WebhookAck{{ID: w.ID, Seq: 99}}})
		if got, _ := s.GetWebhook(w.ID); got.Cursor != 1 || got.FailingSince != 0 {
			t.Fatalf("after ack %+v (cursor is capped at the last event)", got)
		}
		mustApply(t, s, t0, DeactivateWebhook{ID: w.ID, Reason: "failing for 24h"})
		if got, _ := s.GetWebhook(w.ID); got.Active || got.InactiveReason != "failing for 24h" {
			t.Fatalf("after deactivate %+v", got)
		}
	})
}

func TestState_OutboxCompaction(t *testing.T) {
	s := newState(t)
	lagging := mustApply(t, s, t0, CreateWebhook{ID: uuid.New(), UserID: alice, URL: "https://example.com/h", Events: AllEvents}).Webhook
	keeping := mustApply(t, s, t0, CreateWebhook{ID: uuid.New(), UserID: bob, URL: "https://example.com/h", Events: AllEvents}).Webhook
	cycle := func(n int) {
		for i := 0; i < n; i += 2 {
			l := mustApply(t, s, t0, acquire("x", alice, time.Minute)).Lock
			mustApply(t, s, t0, Release{Name: "x", LeaseID: l.LeaseID, HolderID: alice})
		}
	}
	cycle(OutboxRetain + 1000)
	if evs, gap := s.EventsAfter(0, 1); gap || evs[0].Seq != 1 {
		t.Fatal("events still needed by the webhooks were dropped")
	}
	mustApply(t, s, t0, AckWebhooks{Acks: []WebhookAck{{ID: lagging.ID, Seq: 2000}, {ID: keeping.ID, Seq: 3000}}})
	cycle(2)
	// Acknowledged events go, but the most recent OutboxRetain stay.
	firstKept := min(2000, s.LastEventSeq()-OutboxRetain) + 1
	if evs, gap := s.EventsAfter(firstKept-1, 1); gap || evs[0].Seq != firstKept {
		t.Fatalf("first kept %+v, want %d", evs, firstKept)
	}
	if _, gap := s.EventsAfter(firstKept-2, 1); !gap {
		t.Fatal("acknowledged events outside the retained window were kept")
	}
	for range OutboxMax / 10_000 {
		cycle(10_000)
		mustApply(t, s, t0, AckWebhooks{Acks: []WebhookAck{{ID: keeping.ID, Seq: s.LastEventSeq()}}})
	}
	if got, _ := s.GetWebhook(lagging.ID); got.Active || got.InactiveReason == "" {
		t.Fatalf("a webhook whose events were dropped is still active: %+v", got)
	}
	if n := len(s.outbox.events); n > OutboxMax {
		t.Fatalf("outbox holds %d events", n)
	}
	if got, _ := s.GetWebhook(keeping.ID); !got.Active {
		t.Fatal("an up-to-date webhook was deactivated")
	}
}

func TestPattern(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		match         bool
	}{
		{"svc/*", "svc/a", true}, {"svc/*", "svc/a/b", false}, {"svc/**", "svc/a/b", true},
		{"svc/**", "svc", true}, {"**/lock", "a/b/lock", true}, {"**/lock", "lock", true},
		{"a/*-db/x", "a/pg-db/x", true}, {"a/*-db/x", "a/pg-cache/x", false}, {"*", "a/b", false},
		{"**", "anything/at/all", true}, {"a/**/b/**/c", "a/x/b/y/z/c", true}, {"a/**/b", "a/x/c", false},
		{"exact/name", "exact/name", true}, {"exact/name", "exact/names", false},
	} {
		if got := MatchPattern(c.pattern, c.name); got != c.match {
			t.Errorf("MatchPattern(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
	for _, bad := range []string{"", "a//b", "/a", "a/", "a**", "a/**b", "a b", "a/?"} {
		if ValidPattern(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestState_ReacquireWithinLeaseIsQuiet: a re-acquire that does not move
// the expiry emits no renewed event (no webhook call for nothing); its
// metadata is still kept. One that moves the expiry emits one.
func TestState_ReacquireWithinLeaseIsQuiet(t *testing.T) {
	s := newState(t)
	l := mustApply(t, s, t0, acquire("a", alice, 30*time.Second)).Lock
	last := s.LastEventSeq()
	shorter := acquire("a", alice, 10*time.Second)
	shorter.Metadata = "note"
	r := mustApply(t, s, at(time.Second), shorter)
	if r.Status != Extended || r.Lock.ExpiresAt != l.ExpiresAt || r.Lock.Metadata == nil || *r.Lock.Metadata != "note" {
		t.Fatalf("re-acquire within the lease: %+v", r)
	}
	if got, _ := s.GetLock("a", at(time.Second)); got.Metadata == nil || *got.Metadata != "note" {
		t.Fatalf("metadata not kept: %+v", got)
	}
	if s.LastEventSeq() != last {
		evs, _ := s.EventsAfter(last, 10)
		t.Fatalf("events for a re-acquire that changed no expiry: %v", kinds(evs))
	}
	mustApply(t, s, at(time.Second), acquire("a", alice, 60*time.Second))
	if evs, _ := s.EventsAfter(last, 10); !equal(kinds(evs), []string{"renewed a"}) {
		t.Fatalf("events after an extending re-acquire: %v", kinds(evs))
	}
}

// Log entries are applied under the rules of the version that wrote them:
// replaying a version 3 entry after an upgrade gives the renewed event the
// old code gave, so event IDs and webhook cursors recorded before the
// upgrade still point at the same events.
func TestState_ReacquireRuleFollowsTheEntrysVersion(t *testing.T) {
	for _, tc := range []struct {
		version uint8
		want    []string
	}{{3, []string{"renewed a"}}, {batchVersion, nil}} {
		s := newState(t)
		mustApply(t, s, t0, acquire("a", alice, 30*time.Second))
		last := s.LastEventSeq()
		entry := EncodeBatch(Batch{Now: at(time.Second), Skew: time.Second, Commands: []Command{acquire("a", alice, 10*time.Second)}})
		entry[1] = tc.version
		b, err := DecodeBatch(entry)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.Apply(b); r[0].Err != nil || r[0].Status != Extended {
			t.Fatalf("version %d: %+v", tc.version, r[0])
		}
		if evs, _ := s.EventsAfter(last, 10); !equal(kinds(evs), tc.want) {
			t.Fatalf("version %d entry: events %v, want %v", tc.version, kinds(evs), tc.want)
		}
	}
}
