package httpapi

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// Leader election (issue #18): an election is a lock underneath (see the
// state package), so campaigns wait in FIFO order as acquires do, a
// leader tied to a session loses leadership when the session ends, and
// leadership changes are events. These handlers shape the answers.

// electionResponse is an election's leadership.
type electionResponse struct {
	Status    string     `json:"status"` // leader (a campaign's or proclaim's answer, or a read)
	Name      string     `json:"name"`
	Leader    string     `json:"leader"` // the leader's login
	LeaseID   uuid.UUID  `json:"lease_id"`
	Term      uint64     `json:"term"` // the leader's fencing token
	Value     string     `json:"value"`
	Since     time.Time  `json:"since"`
	ExpiresAt time.Time  `json:"expires_at"`
	SessionID *uuid.UUID `json:"session_id,omitempty"`
	Waiting   *int       `json:"waiting,omitempty"` // on reads: campaigns queued behind the leader
}

func newElectionResponse(name string, l state.Lock, leader string, since int64) electionResponse {
	resp := electionResponse{Status: "leader", Name: name, Leader: leader, LeaseID: l.LeaseID, Term: l.Token,
		Since: unixTime(since), ExpiresAt: unixTime(l.ExpiresAt)}
	if l.Metadata != nil {
		resp.Value = *l.Metadata
	}
	if l.SessionID != uuid.Nil {
		resp.SessionID = &l.SessionID
	}
	return resp
}

// electionVacant answers a read of an election without a leader.
type electionVacant struct {
	Status string `json:"status"` // vacant
	Name   string `json:"name"`
}

// electionConflict is a campaign's 409: the election has another leader.
type electionConflict struct {
	Error  string       `json:"error"`
	Code   string       `json:"code"`
	Leader conflictLock `json:"leader"`
}

func (a *API) handleCampaign(w http.ResponseWriter, r *request) {
	var body struct {
		TTLSeconds  *wholeNumber `json:"ttl_seconds"`
		SessionID   *string      `json:"session_id"`
		Value       *text        `json:"value"`
		WaitSeconds *wholeNumber `json:"wait_seconds"`
	}
	c := state.Campaign{Name: r.name, LeaseID: uuid.New(), HolderID: r.user.ID, MaxLocks: a.limits.MaxLocksPerUser}
	err := firstError(validName(r.name), decodeJSON(r, &body, true))
	if err == nil {
		c.TTL, err = lockTTL(body.TTLSeconds)
	}
	if err == nil {
		c.SessionID, err = optionalUUID("session_id", body.SessionID)
	}
	if err == nil {
		c.Value, err = electionValue(body.Value, false)
	}
	if err == nil {
		c.Wait, err = waitSeconds(body.WaitSeconds)
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	wa := waitingAcquire{
		acquire: c.Acquire(), // as the state queues it; the wait reads its name, lease, holder, wait and shape
		propose: func(wait time.Duration) state.Command { cc := c; cc.Wait = wait; return cc },
		answer:  func(res state.Result, err error) { a.writeElectionResult(w, r, res, err, c.TTL) },
	}
	a.acquireOrTry(w, r, c.Wait, wa)
}

// writeElectionResult answers a campaign or proclaim. A leadership handed
// over from the queue has no Since in its result: it began at the grant,
// which is its expiry less the campaign's ttl.
func (a *API) writeElectionResult(w http.ResponseWriter, r *request, res state.Result, err error, ttl time.Duration) {
	res, err = state.Outcome(res, err)
	if err != nil {
		if h, ok := withConflict(err, res).(heldError); ok {
			h.lock.Name = r.name
			writeJSON(w, http.StatusConflict, electionConflict{Error: "The election has another leader",
				Code: "lock_held", Leader: h.lock})
			return
		}
		a.writeError(w, r.Request, err)
		return
	}
	since := res.Since
	if since == 0 {
		since = res.Lock.ExpiresAt - int64(ttl)
	}
	writeJSON(w, http.StatusOK, newElectionResponse(r.name, res.Lock, res.Holder, since))
}

func (a *API) handleProclaim(w http.ResponseWriter, r *request) {
	var body struct {
		LeaseID *string `json:"lease_id"`
		Value   *text   `json:"value"`
	}
	c := state.Proclaim{Name: r.name, HolderID: r.user.ID}
	err := firstError(validName(r.name), decodeJSON(r, &body, true))
	if err == nil {
		c.LeaseID, err = leaseID(body.LeaseID)
	}
	if err == nil {
		c.Value, err = electionValue(body.Value, true)
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	res, err := a.store.Apply(r.Context(), c)
	a.writeElectionResult(w, r, res, err, 0)
}

func (a *API) handleResign(w http.ResponseWriter, r *request) {
	var body struct {
		LeaseID *string `json:"lease_id"`
	}
	c := state.Resign{Name: r.name, HolderID: r.user.ID}
	err := firstError(validName(r.name), decodeJSON(r, &body, true))
	if err == nil {
		c.LeaseID, err = leaseID(body.LeaseID)
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	if _, ok := a.apply(w, r, c); ok {
		writeJSON(w, http.StatusOK, releaseResponse{Status: "resigned", Message: "Leadership given up"})
	}
}

// handleGetElection reads an election's leader. With ?wait= it is a
// blocking read, as a lock's status is: it answers once the leadership
// changed after ?index= (a leader elected, resigned, expired, or its
// value proclaimed), or when the wait ends.
func (a *API) handleGetElection(w http.ResponseWriter, r *request) {
	key := state.ElectionKey(r.name)
	var e state.Election
	var found bool
	var leader string
	var waiting int
	ok := a.blockingRead(w, r, key, func(s state.View, now int64) {
		if e, found = s.GetElection(r.name, now); found {
			leader, waiting = s.Login(e.Leader.HolderID), s.Waiting(key)
		}
	})
	switch {
	case !ok:
	case found:
		resp := newElectionResponse(r.name, e.Leader, leader, e.Since)
		resp.Waiting = &waiting
		writeJSON(w, http.StatusOK, resp)
	default:
		writeJSON(w, http.StatusOK, electionVacant{Status: "vacant", Name: r.name})
	}
}

// electionValue reads a campaign's or proclaim's value: text of at most
// MaxElectionValue bytes, required by proclaim (an empty one clears it).
func electionValue(v *text, required bool) (string, error) {
	if v == nil && required {
		return "", invalid("value is required")
	}
	return textUpTo("value", v, state.MaxElectionValue)
}

// electionPayload is an election's event on /events (event: election):
// acquired is a new leader (term = its fencing token), renewed an
// extended lease or a proclaimed value, released a resignation, expired
// a leadership that lapsed or whose session ended.
type electionPayload struct {
	Event     string    `json:"event"`
	Election  string    `json:"election"`
	HolderID  uuid.UUID `json:"holder_id"`
	Term      uint64    `json:"term"`
	Timestamp time.Time `json:"timestamp"`
}

// nameOfKey is the name a state key stands for in scopes, namespaces and
// prefixes: a lock's own name, or the election's name for its key.
func nameOfKey(key string) string {
	if name, ok := state.ElectionName(key); ok {
		return name
	}
	return key
}

// electionList is GET /elections: elections with a leader, by name.
type electionList struct {
	Elections []electionResponse `json:"elections"`
	Total     int                `json:"total"`
	NextAfter *string            `json:"next_after"`
}

func (a *API) handleListElections(w http.ResponseWriter, r *request) {
	q, err := parseListQuery(r)
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	resp := electionList{Elections: []electionResponse{}}
	err = a.store.Read(r.Context(), q.stale, func(s state.View, now int64) {
		es, more := pageOf(r, q, func(name string) (state.Election, bool) { return s.GetElection(name, now) },
			func(p, a string, n int) ([]state.Election, bool) { return s.ListElections(p, a, n, now) })
		for _, e := range es {
			resp.Elections = append(resp.Elections, newElectionResponse(e.Name, e.Leader, s.Login(e.Leader.HolderID), e.Since))
		}
		if more {
			resp.NextAfter = &es[len(es)-1].Name
		}
	})
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	resp.Total = len(resp.Elections)
	writeJSON(w, http.StatusOK, resp)
}
