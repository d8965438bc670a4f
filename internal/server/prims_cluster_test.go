package server_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

// semStatus is a semaphore's status read.
type semStatus struct {
	Status  string      `json:"status"`
	Limit   int         `json:"limit"`
	Mode    string      `json:"mode"`
	Holders []semHolder `json:"holders"`
}

type semHolder struct {
	LeaseID      string    `json:"lease_id"`
	FencingToken uint64    `json:"fencing_token"`
	Holder       string    `json:"holder"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// election is an election's read or a campaign's answer.
type election struct {
	Status    string    `json:"status"`
	Leader    string    `json:"leader"`
	LeaseID   string    `json:"lease_id"`
	Term      uint64    `json:"term"`
	Value     string    `json:"value"`
	Since     time.Time `json:"since"`
	ExpiresAt time.Time `json:"expires_at"`
}

// settled sends a request until it is answered by a node with a leader
// (leadership may move again while the machine is loaded).
func settled(t *testing.T, n *testNode, method, path, token string, body any) *apitest.Response {
	t.Helper()
	var r *apitest.Response
	poll.Until(t, 10*time.Second, method+" "+path+" answered", func() bool {
		r = n.c.Do(method, path, token, body)
		return r.Status != http.StatusServiceUnavailable
	})
	return r
}

// TestCluster_PrimitivesSurviveFailover (#18): a full semaphore and an
// election's leadership are held across a change of Raft leader with the
// same leases, fencing tokens and expiry; the semaphore still refuses a
// fourth holder and the election another leader; and without renewals
// both end on time under the new leader: never before expires_at + skew,
// and within a second of it (or of the new leader, if it came later).
func TestCluster_PrimitivesSurviveFailover(t *testing.T) {
	const ttl = 12 // seconds: outlasts an election on a loaded machine
	c := newCluster(t, 3)
	leader := c.Leader()
	slot := map[string]any{"ttl_seconds": ttl, "limit": 3}
	var held []lockResp
	for _, token := range []string{alice, alice, apitest.BobToken} {
		r := leader.c.Do("POST", "/locks/fail/sem/acquire", token, slot)
		var l lockResp
		if r.Status != http.StatusOK {
			t.Fatalf("slot %d: %d %s", len(held), r.Status, r.Body)
		}
		r.JSON(t, &l)
		held = append(held, l)
	}
	r := leader.c.Do("POST", "/elections/fail/leader/campaign", alice, map[string]any{"ttl_seconds": ttl, "value": "10.0.0.1:7000"})
	if r.Status != http.StatusOK {
		t.Fatalf("campaign: %d %s", r.Status, r.Body)
	}
	var lead election
	r.JSON(t, &lead)
	if r := leader.c.Do("POST", "/locks/fail/sem/acquire", apitest.BobToken, slot); r.Status != http.StatusConflict {
		t.Fatalf("a fourth slot before the failover: %d %s", r.Status, r.Body)
	}

	leader.stop()
	newLeader := c.WaitForNewLeader(leader)
	led := time.Now()
	if expires := held[0].ExpiresAt; led.After(expires) {
		t.Fatalf("the new leader came %v after the slots expired: nothing left to check", led.Sub(expires))
	}

	t.Run("SlotsHeld", func(t *testing.T) {
		var st semStatus
		settled(t, newLeader, "GET", "/locks/fail/sem", alice, nil).JSON(t, &st)
		if st.Status != "held" || st.Limit != 3 || st.Mode != "exclusive" || len(st.Holders) != 3 {
			t.Fatalf("semaphore after the failover: %+v", st)
		}
		for i, h := range st.Holders {
			if want := held[i]; h.LeaseID != want.LeaseID || h.FencingToken != want.FencingToken ||
				h.Holder != want.Holder || !h.ExpiresAt.Equal(want.ExpiresAt) {
				t.Fatalf("slot %d: %+v, acquired as %+v", i, h, want)
			}
		}
		r := settled(t, newLeader, "POST", "/locks/fail/sem/acquire", apitest.BobToken, slot)
		if r.Status != http.StatusConflict {
			t.Fatalf("a fourth slot after the failover: %d %s", r.Status, r.Body)
		}
	})
	t.Run("LeadershipHeld", func(t *testing.T) {
		var e election
		settled(t, newLeader, "GET", "/elections/fail/leader", alice, nil).JSON(t, &e)
		if e.Status != "leader" || e.Leader != "alice" || e.LeaseID != lead.LeaseID || e.Term != lead.Term ||
			e.Value != lead.Value || !e.Since.Equal(lead.Since) || !e.ExpiresAt.Equal(lead.ExpiresAt) {
			t.Fatalf("election after the failover: %+v, elected as %+v", e, lead)
		}
		r := settled(t, newLeader, "POST", "/elections/fail/leader/campaign", apitest.BobToken, map[string]any{"ttl_seconds": 60})
		if r.Status != http.StatusConflict {
			t.Fatalf("another campaign after the failover: %d %s", r.Status, r.Body)
		}
	})
	if t.Failed() {
		return
	}

	// Nobody renews: each slot and the leadership end on time.
	var ends []ending
	for _, l := range held {
		ends = append(ends, ending{what: "slot " + l.LeaseID, freeAt: l.ExpiresAt.Add(apitest.TestSkew)})
	}
	ends = append(ends, ending{what: "leadership", freeAt: lead.ExpiresAt.Add(apitest.TestSkew)})
	poll.Until(t, time.Until(ends[len(ends)-1].freeAt)+15*time.Second, "the slots and the leadership to end", func() bool {
		var st semStatus
		var e election
		sr := newLeader.c.Do("GET", "/locks/fail/sem", alice, nil)
		er := newLeader.c.Do("GET", "/elections/fail/leader", alice, nil)
		if sr.Status != http.StatusOK || er.Status != http.StatusOK {
			return false
		}
		answered := time.Now()
		sr.JSON(t, &st)
		er.JSON(t, &e)
		for i := range held {
			ends[i].observe(t, answered, slices.ContainsFunc(st.Holders, func(h semHolder) bool { return h.LeaseID == held[i].LeaseID }))
		}
		ends[len(held)].observe(t, answered, e.Status == "leader" && e.LeaseID == lead.LeaseID)
		return !slices.ContainsFunc(ends, func(e ending) bool { return e.endedAt.IsZero() })
	})
	for _, e := range ends {
		e.onTime(t, led)
	}

	// The semaphore and the election are free for others, with new tokens.
	r = settled(t, newLeader, "POST", "/locks/fail/sem/acquire", apitest.BobToken, slot)
	var l lockResp
	if r.Status != http.StatusOK {
		t.Fatalf("a slot after expiry: %d %s", r.Status, r.Body)
	}
	if r.JSON(t, &l); l.FencingToken <= lead.Term {
		t.Fatalf("a slot after expiry has token %d, not above the old term %d", l.FencingToken, lead.Term)
	}
	r = settled(t, newLeader, "POST", "/elections/fail/leader/campaign", apitest.BobToken, map[string]any{"ttl_seconds": 60})
	var next election
	if r.Status != http.StatusOK {
		t.Fatalf("campaign after expiry: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &next)
	if next.Leader != "bob" || next.Term <= lead.Term {
		t.Fatalf("next leader: %+v after %+v", next, lead)
	}
}

// ending follows one hold's end through reads answered at known times.
type ending struct {
	what      string
	freeAt    time.Time // expires_at + skew
	stillHeld time.Time // the last answer that showed it held
	endedAt   time.Time // the first answer that did not
}

func (e *ending) observe(t *testing.T, answered time.Time, held bool) {
	t.Helper()
	switch {
	case held && !e.endedAt.IsZero():
		t.Fatalf("%s held again at %v after it ended at %v", e.what, answered, e.endedAt)
	case held:
		e.stillHeld = answered
	case e.endedAt.IsZero():
		e.endedAt = answered
	}
}

// onTime: it ended no earlier than expires_at + skew, and was last seen
// held within a second of that (or of the new leader, if it came later).
func (e ending) onTime(t *testing.T, led time.Time) {
	t.Helper()
	if e.endedAt.Before(e.freeAt) {
		t.Errorf("%s ended by %v, before expires_at+skew %v", e.what, e.endedAt, e.freeAt)
	}
	due := e.freeAt
	if led.After(due) {
		due = led
	}
	if late := e.stillHeld.Sub(due); late > time.Second {
		t.Errorf("%s still held %v after expires_at+skew", e.what, late)
	}
	t.Logf("%s: last seen held %v before expires_at+skew, seen ended %v after it", e.what,
		e.freeAt.Sub(e.stillHeld).Round(time.Millisecond), e.endedAt.Sub(e.freeAt).Round(time.Millisecond))
}
