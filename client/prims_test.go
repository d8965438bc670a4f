package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

func TestSemaphore_HoldSlots(t *testing.T) {
	_, alice, bob := start(t)
	c := ctx(t)
	sem := alice.Semaphore("ci/runners", 2)
	var slots []*client.Lease
	for range 2 {
		l, err := sem.Hold(c, client.LeaseOptions{TTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if lk := l.Lock(); lk.Status != "acquired" || lk.Limit != 2 || lk.Mode != client.Exclusive {
			t.Fatalf("slot: %+v", lk)
		}
		slots = append(slots, l) // the same holder takes a new slot each time
	}
	if slots[0].LeaseID() == slots[1].LeaseID() || slots[1].FencingToken() <= slots[0].FencingToken() {
		t.Fatalf("slots share a lease or a token: %+v %+v", slots[0].Lock(), slots[1].Lock())
	}
	if _, err := bob.Semaphore("ci/runners", 2).Hold(c, client.LeaseOptions{TTL: time.Minute}); !errors.Is(err, client.ErrLockHeld) {
		t.Fatalf("third slot of two: %v", err)
	}
	_, err := bob.Semaphore("ci/runners", 3).Hold(c, client.LeaseOptions{TTL: time.Minute})
	var api *client.APIError
	if !errors.Is(err, client.ErrLimitMismatch) || errors.Is(err, client.ErrLockHeld) || !errors.As(err, &api) || api.Limit != 2 {
		t.Fatalf("another limit: %v", err)
	}
	// Each slot is renewed by its own lease, past its first expiry.
	first := slots[1].Lock().ExpiresAt
	poll.Until(t, 5*time.Second, "both slots renewed past their first expiry", func() bool {
		st, err := bob.Get(c, "ci/runners", client.GetOptions{})
		return err == nil && len(st.Holders) == 2 && st.Holders[0].ExpiresAt.After(first.Add(time.Second)) &&
			st.Holders[1].ExpiresAt.After(first.Add(time.Second))
	})
	st, err := bob.Get(c, "ci/runners", client.GetOptions{})
	if err != nil || st.Limit != 2 || st.Mode != client.Exclusive || st.Holders[0].LeaseID != slots[0].LeaseID() ||
		st.Holders[1].Holder != "alice" || st.LeaseID != slots[0].LeaseID() {
		t.Fatalf("status: %+v %v", st, err)
	}
	for _, l := range slots {
		if l.Err() != nil {
			t.Fatalf("slot lost while renewing: %v", l.Err())
		}
	}
	if err := slots[0].Release(c); err != nil {
		t.Fatal(err)
	}
	if err := slots[1].Err(); err != nil {
		t.Fatalf("releasing one slot ended the other: %v", err)
	}
	l, err := bob.Semaphore("ci/runners", 2).Hold(c, client.LeaseOptions{TTL: time.Minute})
	if err != nil || l.FencingToken() <= slots[1].FencingToken() {
		t.Fatalf("a freed slot: %v", err)
	}
	list, err := bob.List(c, client.ListOptions{Prefix: "ci/"})
	if err != nil || len(list.Locks) != 1 || list.Locks[0].Limit != 2 || len(list.Locks[0].Holders) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func TestRWLock_SharedAndExclusive(t *testing.T) {
	_, alice, bob := start(t)
	c := ctx(t)
	r1, err := alice.RWLock("config").HoldShared(c, client.LeaseOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := bob.RWLock("config").HoldShared(c, client.LeaseOptions{TTL: time.Minute})
	if err != nil || r2.Lock().Mode != client.Shared || r2.FencingToken() <= r1.FencingToken() {
		t.Fatalf("second reader: %+v %v", r2, err)
	}
	if st, err := alice.Get(c, "config", client.GetOptions{}); err != nil || st.Mode != client.Shared || len(st.Holders) != 2 {
		t.Fatalf("status: %+v %v", st, err)
	}
	sess, err := bob.StartSession(c, client.SessionOptions{TTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(context.Background())
	writer := make(chan error, 1)
	go func() {
		w, err := bob.RWLock("config").Hold(c, client.LeaseOptions{TTL: time.Minute, Wait: 20 * time.Second, SessionID: sess.ID()})
		if err == nil && w.FencingToken() <= r2.FencingToken() {
			err = errors.New("the writer's token is not above the readers'")
		}
		writer <- err
	}()
	poll.Until(t, 5*time.Second, "writer queued", func() bool {
		st, err := alice.Get(c, "config", client.GetOptions{})
		return err == nil && st.Waiters == 1
	})
	for _, r := range []*client.Lease{r1, r2} {
		if err := r.Release(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-writer; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if _, err := alice.RWLock("config").HoldShared(c, client.LeaseOptions{TTL: time.Minute}); !errors.Is(err, client.ErrLockHeld) {
		t.Fatalf("a reader while the writer holds: %v", err)
	}
}

// observe collects an election's leadership changes until the test ends.
func observe(t *testing.T, e *client.Election) <-chan client.ElectionStatus {
	ch := make(chan client.ElectionStatus, 16)
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Observe(c, func(s client.ElectionStatus) error { ch <- s; return nil }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Observe: %v", err)
		}
	})
	return ch
}

// nextChange returns the observer's next change, failing after 10 s.
func nextChange(t *testing.T, ch <-chan client.ElectionStatus) client.ElectionStatus {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no leadership change observed")
		return client.ElectionStatus{}
	}
}

func TestElection_CampaignRenewProclaimHandover(t *testing.T) {
	_, alice, bob := start(t)
	c := ctx(t)
	changes := observe(t, bob.Election("svc/scheduler"))
	if s := nextChange(t, changes); s.Elected || s.Status != "vacant" {
		t.Fatalf("first observation: %+v", s)
	}
	lead, err := alice.Election("svc/scheduler").Campaign(c, client.CampaignOptions{TTL: time.Second, Value: "10.0.0.1:7000"})
	if err != nil {
		t.Fatal(err)
	}
	if s := lead.Status(); !s.Elected || s.Leader != "alice" || s.Value != "10.0.0.1:7000" || s.Term == 0 {
		t.Fatalf("campaign: %+v", s)
	}
	if s := nextChange(t, changes); s.Leader != "alice" || s.Term != lead.Term() || s.Value != "10.0.0.1:7000" {
		t.Fatalf("observed: %+v", s)
	}
	_, err = bob.Campaign(c, "svc/scheduler", client.CampaignOptions{TTL: time.Minute})
	if h, ok := client.HeldBy(err); !errors.Is(err, client.ErrLockHeld) || !ok || h.Holder != "alice" {
		t.Fatalf("a second campaigner: %v", err)
	}
	// Renewed past its first expiry, keeping the same lease and term.
	first := lead.Status().ExpiresAt
	poll.Until(t, 5*time.Second, "leadership renewed past its first expiry", func() bool {
		s, err := bob.Election("svc/scheduler").Leader(c, client.GetOptions{})
		return err == nil && s.LeaseID == lead.LeaseID() && s.ExpiresAt.After(first.Add(1500*time.Millisecond))
	})
	if err := lead.Err(); err != nil {
		t.Fatalf("leadership lost while renewing: %v", err)
	}
	if err := lead.Proclaim(c, "10.0.0.1:7001"); err != nil || lead.Status().Value != "10.0.0.1:7001" {
		t.Fatalf("proclaim: %v %+v", err, lead.Status())
	}
	if s := nextChange(t, changes); s.Value != "10.0.0.1:7001" || s.Term != lead.Term() {
		t.Fatalf("observed proclaim: %+v", s)
	}
	// bob waits in line; alice resigns and bob leads at once, in a later term.
	next := make(chan *client.Leadership, 1)
	go func() {
		l, err := bob.Election("svc/scheduler").Campaign(c, client.CampaignOptions{TTL: time.Second, Wait: 20 * time.Second, Value: "bob:1"})
		if err != nil {
			t.Errorf("waiting campaign: %v", err)
		}
		next <- l
	}()
	var queued time.Time
	poll.Until(t, 5*time.Second, "campaigner queued", func() bool {
		s, err := alice.Election("svc/scheduler").Leader(c, client.GetOptions{})
		if err != nil {
			return false
		}
		queued = s.ExpiresAt
		return s.Waiting == 1
	})
	// The leader keeps renewing with a campaigner in line.
	poll.Until(t, 5*time.Second, "renewed with a campaigner waiting", func() bool {
		s, err := alice.Election("svc/scheduler").Leader(c, client.GetOptions{})
		return err == nil && s.LeaseID == lead.LeaseID() && s.Waiting == 1 && s.ExpiresAt.After(queued.Add(500*time.Millisecond))
	})
	if err := lead.Err(); err != nil {
		t.Fatalf("leadership lost with a campaigner waiting: %v", err)
	}
	if err := lead.Resign(c); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(lead.Context()), client.ErrReleased) {
		t.Fatalf("cause after resign: %v", context.Cause(lead.Context()))
	}
	bobLead := <-next
	if bobLead == nil {
		t.FailNow()
	}
	if bobLead.Term() <= lead.Term() || bobLead.Status().Leader != "bob" {
		t.Fatalf("next leader: %+v", bobLead.Status())
	}
	for s := nextChange(t, changes); s.Leader != "bob"; s = nextChange(t, changes) {
		if s.Elected { // a vacancy between the terms may or may not be seen
			t.Fatalf("observed %+v before bob's term", s)
		}
	}
	list, err := alice.ListElections(c, client.ListOptions{Prefix: "svc/"})
	if err != nil || list.Total != 1 || list.Elections[0].Term != bobLead.Term() || list.Elections[0].Value != "bob:1" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := bobLead.Resign(c); err != nil {
		t.Fatal(err)
	}
}

// A leadership given up behind the keeper's back is lost at the next
// renewal, and the term that renewal began (nobody else was waiting) is
// given back rather than taken for the old one.
func TestElection_LostWhenResignedElsewhere(t *testing.T) {
	_, alice, bob := start(t)
	c := ctx(t)
	lead, err := alice.Election("jobs/leader").Campaign(c, client.CampaignOptions{TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Resign(c, "jobs/leader", lead.LeaseID()); err != nil {
		t.Fatal(err)
	}
	done(t, lead.Context(), 5*time.Second, "leadership resigned elsewhere")
	if cause := lead.Err(); !errors.Is(cause, client.ErrLeadershipLost) || !errors.Is(cause, client.ErrLeaseLost) ||
		!errors.Is(cause, client.ErrNotFound) {
		t.Fatalf("cause: %v", cause)
	}
	if s, err := bob.Election("jobs/leader").Leader(c, client.GetOptions{}); err != nil || s.Elected {
		t.Fatalf("after the lost renewal: %+v %v", s, err)
	}
	if err := lead.Resign(c); err != nil {
		t.Fatalf("resign of a lost leadership: %v", err)
	}
}

// With the network black-holed, the leadership's context is cancelled
// before the server could end the leadership.
func TestElection_LostBeforeServerExpiryWhenPartitioned(t *testing.T) {
	srv, _, bob := start(t)
	proxy := apitest.StartProxy(t, srv.Addr())
	alice := newClient(t, proxy.Addr, apitest.AliceToken)
	c := ctx(t)
	lead, err := alice.Election("jobs/partitioned").Campaign(c, client.CampaignOptions{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	proxy.BlackHole()
	lost := done(t, lead.Context(), 5*time.Second, "partitioned leadership")
	s, err := bob.Election("jobs/partitioned").Leader(c, client.GetOptions{})
	if err != nil || !s.Elected || s.LeaseID != lead.LeaseID() {
		t.Fatalf("the leadership had ended when the leader noticed: %+v %v", s, err)
	}
	margin := s.ExpiresAt.Sub(lost)
	t.Logf("leadership context cancelled %v before the server's expiry", margin)
	if margin <= 0 || lost.After(lead.Expiry()) {
		t.Fatalf("cancelled %v after the server's expiry", -margin)
	}
	if cause := lead.Err(); !errors.Is(cause, client.ErrLeadershipLost) {
		t.Fatalf("cause: %v", cause)
	}
}
