package httpapi_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
)

// Requests that arrive late, twice, or out of order — a client retrying
// after a timeout, a proxy replaying, a slow network path — must not undo
// or extend what later requests did.

// TestStale_LeaseRequestsAfterRegrant: once alice released lease L1 and
// acquired the lock again (L2), a delayed release or renew carrying L1 is
// 404 and leaves L2 exactly as it was.
func TestStale_LeaseRequestsAfterRegrant(t *testing.T) {
	_, c := apitest.Start(t)
	first := mustAcquire(t, c, "jobs/report", alice, 30)
	wantStatus(t, c.Do("POST", "/locks/jobs/report/release", alice, body{"lease_id": first.LeaseID}), http.StatusOK)
	second := mustAcquire(t, c, "jobs/report", alice, 30)
	if second.LeaseID == first.LeaseID || second.FencingToken <= first.FencingToken {
		t.Fatalf("regrant %+v after %+v", second, first)
	}
	wantError(t, c.Do("POST", "/locks/jobs/report/renew", alice, body{"lease_id": first.LeaseID, "ttl_seconds": 3600}),
		http.StatusNotFound, "lock_not_found")
	wantError(t, c.Do("POST", "/locks/jobs/report/release", alice, body{"lease_id": first.LeaseID}),
		http.StatusNotFound, "lock_not_found")
	r := c.Do("GET", "/locks/jobs/report", alice, nil)
	wantStatus(t, r, http.StatusOK)
	var now lockResp
	r.JSON(t, &now)
	if now.Status != "held" || now.LeaseID != "" && now.LeaseID != second.LeaseID ||
		now.FencingToken != second.FencingToken || !now.ExpiresAt.Equal(second.ExpiresAt) {
		t.Fatalf("after stale requests: %+v, want the second grant %+v unchanged", now, second)
	}
}

// TestStale_RenewAfterReleaseDoesNotResurrect: a renew that lost the race
// against its own release finds nothing to renew.
func TestStale_RenewAfterReleaseDoesNotResurrect(t *testing.T) {
	_, c := apitest.Start(t)
	l := mustAcquire(t, c, "once", alice, 30)
	wantStatus(t, c.Do("POST", "/locks/once/release", alice, body{"lease_id": l.LeaseID}), http.StatusOK)
	wantError(t, c.Do("POST", "/locks/once/renew", alice, body{"lease_id": l.LeaseID, "ttl_seconds": 60}),
		http.StatusNotFound, "lock_not_found")
	next := mustAcquire(t, c, "once", bob, 30)
	if next.Status != "acquired" || next.Holder != "bob" {
		t.Fatalf("bob after the stale renew: %+v", next)
	}
}

// TestStale_DuplicateAcquires: the same acquire sent many times at once
// (client retries) grants once; every copy gets that one lease and token.
func TestStale_DuplicateAcquires(t *testing.T) {
	_, c := apitest.Start(t)
	const copies = 16
	results := make([]lockResp, copies)
	statuses := make([]int, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			r := c.Do("POST", "/locks/dup/acquire", alice, body{"ttl_seconds": 30})
			if statuses[i] = r.Status; r.Status == http.StatusOK {
				r.JSON(t, &results[i])
			}
		})
	}
	wg.Wait()
	acquired := 0
	for i, r := range results {
		if statuses[i] != http.StatusOK {
			t.Fatalf("copy %d: status %d", i, statuses[i])
		}
		if r.Status == "acquired" {
			acquired++
		}
		if r.LeaseID != results[0].LeaseID || r.FencingToken != results[0].FencingToken {
			t.Fatalf("copies got different grants: %+v and %+v", r, results[0])
		}
	}
	if acquired != 1 {
		t.Fatalf("%d copies say acquired, want exactly 1 (the rest held)", acquired)
	}
}

// TestStale_AcquireWithEndedSession: an acquire naming a session that was
// deleted meanwhile is refused, so no lock outlives its session.
func TestStale_AcquireWithEndedSession(t *testing.T) {
	_, c := apitest.Start(t)
	s := newSession(t, c, alice, 30)
	wantStatus(t, c.Do("DELETE", "/sessions/"+s.SessionID, alice, nil), http.StatusNoContent)
	r, _ := acquire(t, c, "late", alice, body{"ttl_seconds": 30, "session_id": s.SessionID})
	wantError(t, r, http.StatusUnprocessableEntity, "invalid_session")
	r = c.Do("GET", "/locks/late", alice, nil)
	wantStatus(t, r, http.StatusOK)
	var l lockResp
	if r.JSON(t, &l); l.Status != "available" {
		t.Fatalf("lock after a refused late acquire: %s", r.Body)
	}
}
