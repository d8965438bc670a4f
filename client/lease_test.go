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

func TestLease_RenewsAndReleases(t *testing.T) {
	_, alice, bob := start(t)
	c := ctx(t)
	l, err := alice.Hold(c, "jobs/lease", client.LeaseOptions{TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	first := l.Lock().ExpiresAt
	// Renewed past its first expiry and still held.
	poll.Until(t, 5*time.Second, "renewed twice past the first expiry", func() bool {
		st, err := bob.Get(c, "jobs/lease", client.GetOptions{})
		return err == nil && st.Held && st.LeaseID == l.LeaseID() && st.ExpiresAt.After(first.Add(1500*time.Millisecond))
	})
	if l.Err() != nil {
		t.Fatalf("lease lost while renewing: %v", l.Err())
	}
	if err := l.Release(c); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(l.Context()), client.ErrReleased) {
		t.Fatalf("cause after release: %v", context.Cause(l.Context()))
	}
	if st, err := bob.Get(c, "jobs/lease", client.GetOptions{}); err != nil || st.Held {
		t.Fatalf("after release: %+v %v", st, err)
	}
}

// A renewal refused (the lease was released behind the helper's back) is
// a definitive loss: the context is cancelled at once.
func TestLease_LostWhenRenewRefused(t *testing.T) {
	_, alice, _ := start(t)
	c := ctx(t)
	l, err := alice.Hold(c, "jobs/stolen", client.LeaseOptions{TTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Release(c, "jobs/stolen", l.LeaseID()); err != nil {
		t.Fatal(err)
	}
	done(t, l.Context(), 5*time.Second, "lease released elsewhere")
	if cause := context.Cause(l.Context()); !errors.Is(cause, client.ErrLeaseLost) || !errors.Is(cause, client.ErrNotFound) {
		t.Fatalf("cause: %v", cause)
	}
	if err := l.Release(c); err != nil {
		t.Fatalf("release of a lost lease: %v", err)
	}
}

// With the network black-holed, no renewal is confirmed: the context is
// cancelled at the local deadline, which comes before the expiry the
// server holds for the lease.
func TestLease_LostBeforeServerExpiryWhenPartitioned(t *testing.T) {
	srv, _, bob := start(t)
	proxy := apitest.StartProxy(t, srv.Addr())
	alice := newClient(t, proxy.Addr, apitest.AliceToken)
	c := ctx(t)
	l, err := alice.Hold(c, "jobs/partitioned", client.LeaseOptions{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	proxy.BlackHole()
	lost := done(t, l.Context(), 5*time.Second, "partitioned lease")
	st, err := bob.Get(c, "jobs/partitioned", client.GetOptions{})
	if err != nil || !st.Held || st.LeaseID != l.LeaseID() {
		t.Fatalf("the lock was no longer held when the holder noticed: %+v %v", st, err)
	}
	margin := st.ExpiresAt.Sub(lost)
	t.Logf("context cancelled %v before the server's expiry (local deadline %v before)", margin, st.ExpiresAt.Sub(l.Deadline()))
	if margin <= 0 {
		t.Fatalf("cancelled %v after the server's expiry", -margin)
	}
	if cause := context.Cause(l.Context()); !errors.Is(cause, client.ErrLeaseLost) {
		t.Fatalf("cause: %v", cause)
	}
}

// A stopped server: renewals are refused at connect; the context is
// cancelled by the local deadline, before the lease's earliest expiry.
func TestLease_LostWhenServerStops(t *testing.T) {
	srv, alice, _ := start(t)
	c := ctx(t)
	l, err := alice.Hold(c, "jobs/stopped", client.LeaseOptions{TTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(c); err != nil {
		t.Fatal(err)
	}
	lost := done(t, l.Context(), 5*time.Second, "server stopped")
	if !lost.Before(l.Expiry()) || !errors.Is(context.Cause(l.Context()), client.ErrLeaseLost) {
		t.Fatalf("lost at %v, expiry %v: %v", lost, l.Expiry(), context.Cause(l.Context()))
	}
	t.Logf("cancelled %v before the earliest expiry", l.Expiry().Sub(lost))
}

// Hold with Wait queues behind the holder and gets the lock, with a
// higher fencing token, when it is released.
func TestLease_WaitsForTheLock(t *testing.T) {
	_, alice, bob := start(t)
	c := ctx(t)
	first, err := alice.Hold(c, "deploy/prod", client.LeaseOptions{TTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Hold(c, "deploy/prod", client.LeaseOptions{TTL: 10 * time.Second}); !errors.Is(err, client.ErrLockHeld) {
		t.Fatalf("try-lock on a held lock: %v", err)
	}
	got := make(chan *client.Lease, 1)
	go func() {
		l, err := bob.Hold(c, "deploy/prod", client.LeaseOptions{TTL: 10 * time.Second, Wait: 20 * time.Second})
		if err != nil {
			t.Error(err)
		}
		got <- l
	}()
	poll.Until(t, 5*time.Second, "bob waiting", func() bool {
		st, err := alice.Get(c, "deploy/prod", client.GetOptions{})
		return err == nil && st.Waiters == 1
	})
	if err := first.Release(c); err != nil {
		t.Fatal(err)
	}
	select {
	case second := <-got:
		if second == nil || second.FencingToken() <= first.FencingToken() {
			t.Fatalf("waited lease: %+v", second)
		}
		second.Release(c)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not get the lock")
	}
}

func TestSession_KeepAliveAndLoss(t *testing.T) {
	_, alice, _ := start(t)
	c := ctx(t)
	s, err := alice.StartSession(c, client.SessionOptions{TTL: 10 * time.Second, KeepAliveEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	st, err := alice.GetSession(c, s.ID())
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 5*time.Second, "keepalive extends the session", func() bool {
		st2, err := alice.GetSession(c, s.ID())
		return err == nil && st2.ExpiresAt.After(st.ExpiresAt.Add(200*time.Millisecond))
	})
	l, err := s.Hold(c, "session/lock", client.LeaseOptions{TTL: 3 * time.Second})
	if err != nil || l.Lock().SessionID != s.ID() {
		t.Fatalf("hold with session: %+v %v", l, err)
	}
	// Deleted elsewhere: the next keepalive is refused (410) and both the
	// session's context and the lease's (its renewal is refused) end.
	if err := alice.DeleteSession(c, s.ID()); err != nil {
		t.Fatal(err)
	}
	done(t, s.Context(), 5*time.Second, "session deleted elsewhere")
	if cause := context.Cause(s.Context()); !errors.Is(cause, client.ErrSessionLost) || !errors.Is(cause, client.ErrSessionExpired) {
		t.Fatalf("cause: %v", cause)
	}
	done(t, l.Context(), 15*time.Second, "session lock")
	if err := s.Close(c); err != nil {
		t.Fatalf("close after loss: %v", err)
	}
}

func TestSession_CloseReleasesLocks(t *testing.T) {
	_, alice, bob := start(t)
	c := ctx(t)
	s, err := alice.StartSession(c, client.SessionOptions{TTL: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Acquire(c, "session/a", client.AcquireOptions{TTL: time.Minute, SessionID: s.ID()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(c); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(context.Cause(s.Context()), client.ErrReleased) {
		t.Fatalf("cause: %v", context.Cause(s.Context()))
	}
	if st, err := bob.Get(c, "session/a", client.GetOptions{}); err != nil || st.Held {
		t.Fatalf("session lock after close: %+v %v", st, err)
	}
}

// A safety margin that is not shorter than the TTL leaves nothing to
// keep: Hold and StartSession refuse it before asking the server.
func TestOptions_MarginNotShorterThanTTL(t *testing.T) {
	_, alice, _ := start(t)
	c := ctx(t)
	if _, err := alice.Hold(c, "jobs/margin", client.LeaseOptions{TTL: 2 * time.Second, SafetyMargin: 2 * time.Second}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("Hold: %v, want ErrInvalid", err)
	}
	if _, err := alice.StartSession(c, client.SessionOptions{TTL: 10 * time.Second, SafetyMargin: time.Minute}); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("StartSession: %v, want ErrInvalid", err)
	}
	if st, err := alice.Get(c, "jobs/margin", client.GetOptions{}); err != nil || st.Held {
		t.Fatalf("a refused Hold acquired the lock: %+v %v", st, err)
	}
}
