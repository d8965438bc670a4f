package state

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestPrims_Election(t *testing.T) {
	s := newState3(t)
	lead := mustApply(t, s, at(0), Campaign{Name: "svc", LeaseID: uuid.New(), HolderID: alice, TTL: time.Minute, Value: "10.0.0.1"})
	next := Campaign{Name: "svc", LeaseID: uuid.New(), HolderID: bob, TTL: time.Minute, Value: "10.0.0.2", Wait: time.Minute}
	t.Run("Campaign", func(t *testing.T) {
		e, ok := s.GetElection("svc", at(0))
		if lead.Status != Granted || !ok || e.Value != "10.0.0.1" || e.Term != lead.Lock.Token || e.Since != at(0) {
			t.Fatalf("%+v %+v", lead, e)
		}
		if r := mustApply(t, s, at(time.Second), next); r.Status != Queued {
			t.Fatalf("second campaigner %+v", r)
		}
		if _, held := s.GetLock("svc", at(0)); held {
			t.Fatal("an election is not the lock of the same name")
		}
		if l, _ := s.ListLocks("", "", 10, at(0)); len(l) != 0 {
			t.Fatalf("ListLocks shows elections: %+v", l)
		}
		if l, _ := s.ListLocks(electionPrefix, "", 10, at(0)); len(l) != 0 {
			t.Fatalf("ListLocks shows elections by their key: %+v", l)
		}
		if es, _ := s.ListElections("", "", 10, at(0)); len(es) != 1 || es[0].Name != "svc" {
			t.Fatalf("ListElections %+v", es)
		}
	})
	t.Run("Proclaim", func(t *testing.T) {
		r := mustApply(t, s, at(2*time.Second), Proclaim{Name: "svc", LeaseID: lead.Lock.LeaseID, HolderID: alice, Value: "10.0.0.9"})
		e, _ := s.GetElection("svc", at(2*time.Second))
		if e.Value != "10.0.0.9" || e.Term != lead.Lock.Token || e.Since != at(0) || r.Lock.ExpiresAt != lead.Lock.ExpiresAt {
			t.Fatalf("%+v", e)
		}
		if r := applyAt(s, at(2*time.Second), Proclaim{Name: "svc", LeaseID: uuid.New(), HolderID: alice, Value: "x"}); !errors.Is(r.Err, ErrLockNotFound) {
			t.Fatalf("wrong lease: %+v", r)
		}
	})
	t.Run("ResignHandsOver", func(t *testing.T) {
		mustApply(t, s, at(3*time.Second), Resign{Name: "svc", LeaseID: lead.Lock.LeaseID, HolderID: alice})
		e, ok := s.GetElection("svc", at(3*time.Second))
		if !ok || e.Leader.HolderID != bob || e.Value != "10.0.0.2" || e.Term <= lead.Lock.Token || e.Since != at(3*time.Second) {
			t.Fatalf("%+v", e)
		}
		if h := s.TakeHandoffs(); len(h) != 1 || h[0].Name != ElectionKey("svc") {
			t.Fatalf("handoffs %+v", h)
		}
	})
	t.Run("SessionEndEndsLeadership", func(t *testing.T) {
		sid := uuid.New()
		mustApply(t, s, at(4*time.Second), CreateSession{ID: sid, UserID: carol, TTL: 10 * time.Second})
		mustApply(t, s, at(4*time.Second), Campaign{Name: "db", LeaseID: uuid.New(), HolderID: carol, SessionID: sid, TTL: time.Minute})
		mustApply(t, s, at(5*time.Second), DeleteSession{ID: sid, UserID: carol})
		if _, ok := s.GetElection("db", at(5*time.Second)); ok || len(s.elected) != 1 {
			t.Fatalf("leader kept after its session ended: %v", s.elected)
		}
	})
	t.Run("SnapshotKeepsIt", func(t *testing.T) {
		before := snapshotBytes(t, s)
		r, err := Restore(bytes.NewReader(before))
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := r.GetElection("svc", at(5*time.Second)); e.Since != at(3*time.Second) || e.Value != "10.0.0.2" {
			t.Fatalf("restored %+v", e)
		}
		if !bytes.Equal(snapshotBytes(t, r), before) {
			t.Fatal("snapshot → restore is not the identity")
		}
	})
}

func TestPrims_WebhooksSkipElections(t *testing.T) {
	w := &Webhook{Events: AllEvents}
	if w.Wants(Event{Kind: EventAcquired, Lock: ElectionKey("svc")}) || !w.Wants(Event{Kind: EventAcquired, Lock: "svc"}) {
		t.Fatal("a webhook must see locks' events and not elections'")
	}
	if name, ok := ElectionName(ElectionKey("a/b")); !ok || name != "a/b" {
		t.Fatalf("ElectionName = %q, %v", name, ok)
	}
	if _, ok := ElectionName("a/b"); ok {
		t.Fatal("a lock name is no election key")
	}
}
