package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ElectionStatus is an election's leadership: a campaign's or proclaim's
// answer, or a read's (Elected false: vacant).
type ElectionStatus struct {
	Status    string    `json:"status"` // "leader", or "vacant" on a read of an election nobody leads
	Name      string    `json:"name"`
	Leader    string    `json:"leader"`   // the leader's login
	LeaseID   string    `json:"lease_id"` // the leader's lease, for Proclaim and Resign
	Term      uint64    `json:"term"`     // the leader's fencing token: strictly increasing across terms
	Value     string    `json:"value"`    // the leader's value (e.g. its address)
	Since     time.Time `json:"since"`    // when the leader was elected
	ExpiresAt time.Time `json:"expires_at"`
	SessionID string    `json:"session_id,omitempty"`
	Waiting   int       `json:"waiting"` // on reads: campaigns queued behind the leader
	Elected   bool      `json:"-"`       // whether the election has a leader
	Index     uint64    `json:"-"`       // on reads, X-OctoStore-Index: pass it to a blocking GetElection
}

// CampaignOptions configure a campaign. TTL is rounded up to whole
// seconds (1s to 1h).
type CampaignOptions struct {
	TTL       time.Duration // the leadership's TTL unless renewed; Election.Campaign's default 30s
	Wait      time.Duration // wait up to this long (at most 5m) in FIFO order; 0 fails at once when led
	SessionID string        // tie the leadership to this session: it ends with it
	Value     string        // the leader's value (≤ 1024 bytes); a leader's re-campaign without one keeps its value

	// SafetyMargin and RenewEvery are as in LeaseOptions, for
	// Election.Campaign.
	SafetyMargin time.Duration
	RenewEvery   time.Duration
}

// Campaign asks once to become the leader of election name, waiting up to
// o.Wait in FIFO order. Another leader is ErrLockHeld (HeldBy tells who).
// The leader campaigning again (same user and session) extends its lease
// and gets the same lease back: that is how a leader renews.
// Election.Campaign does that in the background.
func (c *Client) Campaign(ctx context.Context, name string, o CampaignOptions) (*ElectionStatus, error) {
	body := map[string]any{"ttl_seconds": seconds(o.TTL)}
	if o.SessionID != "" {
		body["session_id"] = o.SessionID
	}
	if o.Value != "" {
		body["value"] = o.Value
	}
	if o.Wait > 0 {
		body["wait_seconds"] = seconds(o.Wait)
	}
	return c.electionCall(ctx, name, "campaign", body)
}

// Proclaim replaces the value of the leader whose lease is leaseID
// (empty clears it). Any other lease is ErrNotFound.
func (c *Client) Proclaim(ctx context.Context, name, leaseID, value string) (*ElectionStatus, error) {
	return c.electionCall(ctx, name, "proclaim", map[string]string{"lease_id": leaseID, "value": value})
}

func (c *Client) electionCall(ctx context.Context, name, action string, body any) (*ElectionStatus, error) {
	var e ElectionStatus
	err := c.do(ctx, &call{method: http.MethodPost, path: electionPath(name, action), body: body, out: &e})
	e.Elected = e.Status == "leader"
	return result(&e, err)
}

// Resign gives up the leadership held with leaseID; the first campaigner
// waiting becomes leader at once. It is retried as Release is: after an
// attempt that may have succeeded, a 404 means the leadership is gone, as
// wanted.
func (c *Client) Resign(ctx context.Context, name, leaseID string) error {
	k := &call{method: http.MethodPost, path: electionPath(name, "resign"), kind: idempotent,
		body: map[string]string{"lease_id": leaseID}}
	err := c.do(ctx, k)
	if k.uncertain && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// GetElection reads an election's leader; an election nobody leads is not
// an error (Elected false). With o.Wait and o.Index it is a blocking read
// that returns when the leadership changes after Index (elected,
// resigned, expired, a value proclaimed, a lease extended), or after Wait.
func (c *Client) GetElection(ctx context.Context, name string, o GetOptions) (*ElectionStatus, error) {
	var e ElectionStatus
	k := &call{method: http.MethodGet, path: electionPath(name), query: o.query(), kind: read, out: &e}
	if err := c.do(ctx, k); err != nil {
		return nil, err
	}
	e.Elected = e.Status == "leader"
	e.Index, _ = strconv.ParseUint(k.header.Get("X-OctoStore-Index"), 10, 64)
	return &e, nil
}

// ElectionList is one page of elections with a leader.
type ElectionList struct {
	Elections []ElectionStatus `json:"elections"`
	Total     int              `json:"total"`
	NextAfter *string          `json:"next_after"` // set when more follow: pass it as ListOptions.After
}

// ListElections returns one page of the elections that have a leader, in
// name order (o selects them as List selects locks).
func (c *Client) ListElections(ctx context.Context, o ListOptions) (*ElectionList, error) {
	var l ElectionList
	err := c.do(ctx, &call{method: http.MethodGet, path: "/elections", query: o.query(), kind: read, out: &l})
	for i := range l.Elections {
		l.Elections[i].Elected = true
	}
	return result(&l, err)
}

// Election is election name: Campaign for its leadership, read its
// Leader, Observe its changes.
type Election struct {
	c    *Client
	name string
}

// Election returns the election name. (Election "x" and lock "x" are
// different things.)
func (c *Client) Election(name string) *Election { return &Election{c: c, name: name} }

// Name is the election's name.
func (e *Election) Name() string { return e.name }

// Leader reads the election's leadership (see Client.GetElection).
func (e *Election) Leader(ctx context.Context, o GetOptions) (*ElectionStatus, error) {
	return e.c.GetElection(ctx, e.name, o)
}

// Campaign becomes the leader, waiting up to o.Wait in FIFO order, and
// keeps the leadership renewed in the background (by campaigning again
// every RenewEvery), as Client.Hold keeps a lease: the Leadership's
// Context is cancelled, with a cause that matches ErrLeadershipLost, the
// moment the leadership can no longer be proven held, before its lease
// could lapse on the server. ctx bounds the campaign only.
//
// The leader is the token's user, or with SessionID that session:
// processes sharing a token that must not lead together each campaign
// through their own Session.
func (e *Election) Campaign(ctx context.Context, o CampaignOptions) (*Leadership, error) {
	lo := LeaseOptions{TTL: o.TTL, Wait: o.Wait, SafetyMargin: o.SafetyMargin, RenewEvery: o.RenewEvery}
	if err := lo.defaults(); err != nil {
		return nil, err
	}
	l := &Leadership{c: e.c}
	var err error
	l.k, err = keep(ctx, lo, ErrLeadershipLost, func(ctx context.Context) error {
		st, err := e.c.Campaign(ctx, e.name, CampaignOptions{TTL: lo.TTL, Wait: lo.Wait, SessionID: o.SessionID, Value: o.Value})
		if err == nil {
			l.status = *st
		}
		return err
	}, func(ctx context.Context) error {
		// The value stays as proclaimed: a re-campaign without one keeps it.
		st, err := e.c.Campaign(ctx, e.name, CampaignOptions{TTL: lo.TTL, SessionID: o.SessionID})
		switch {
		case err != nil:
			return err
		case st.LeaseID != l.status.LeaseID:
			// Our lease lapsed and nobody took over: this campaign began a
			// new term, which is not the leadership l stands for. Give it back.
			return errors.Join(fmt.Errorf("%w: the leadership of term %d lapsed (term %d began)", ErrNotFound,
				l.status.Term, st.Term), e.c.Resign(context.WithoutCancel(ctx), e.name, st.LeaseID))
		}
		return nil
	}, func(ctx context.Context) error { return e.c.Resign(ctx, e.name, l.status.LeaseID) })
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Observe calls fn with the election's leadership now, then with every
// change of leader, term or value (a vacancy included), until ctx ends or
// fn returns an error, which Observe returns. It follows the election
// with blocking reads; a failed read is repeated with backoff, and
// Observe returns only errors no retry can fix (unauthorized, forbidden,
// invalid). Changes that come and go between two reads may be missed;
// the last one never is.
func (e *Election) Observe(ctx context.Context, fn func(ElectionStatus) error) error {
	var last *ElectionStatus
	o := GetOptions{} // the first read answers at once; later ones block
	for attempt := 1; ; attempt++ {
		st, err := e.c.GetElection(ctx, e.name, o)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrForbidden), errors.Is(err, ErrInvalid):
			return err
		case err != nil:
			if !sleep(ctx, e.c.backoff(attempt, err)) {
				return ctx.Err()
			}
			continue
		}
		attempt, o = 0, GetOptions{Index: st.Index, Wait: time.Minute}
		if last == nil || last.Elected != st.Elected || last.LeaseID != st.LeaseID || last.Value != st.Value {
			if err := fn(*st); err != nil {
				return err
			}
			last = st
		}
	}
}

// Leadership is an election's leadership held by this client, renewed in
// the background until Resign. Its Context is cancelled the moment the
// leadership can no longer be proven held.
type Leadership struct {
	c      *Client
	k      *keeper
	mu     sync.Mutex // guards status.Value, which Proclaim changes
	status ElectionStatus
}

// Status is the campaign's answer, with the value last proclaimed.
func (l *Leadership) Status() ElectionStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

// LeaseID is the leader's lease.
func (l *Leadership) LeaseID() string { return l.status.LeaseID }

// Term is the leadership's term (its fencing token): send it with every
// write to what the leader alone may change, which must refuse a term
// lower than the highest it has seen.
func (l *Leadership) Term() uint64 { return l.status.Term }

// Context is cancelled when the leadership is lost (context.Cause matches
// ErrLeadershipLost, and ErrLeaseLost, and says why) or resigned
// (ErrReleased).
func (l *Leadership) Context() context.Context { return l.k.ctx }

// Err is nil while the leadership is held, else why it is not.
func (l *Leadership) Err() error { return context.Cause(l.k.ctx) }

// Deadline is the local deadline: when Context is cancelled unless a
// renewal is confirmed first.
func (l *Leadership) Deadline() time.Time { return l.k.Deadline() }

// Expiry is the earliest moment the server may end the leadership (last
// confirmed send time + TTL, on this machine's monotonic clock).
func (l *Leadership) Expiry() time.Time { return l.k.Expiry() }

// Proclaim replaces the leader's value; readers and observers see it. A
// lost leadership is ErrNotFound.
func (l *Leadership) Proclaim(ctx context.Context, value string) error {
	st, err := l.c.Proclaim(ctx, l.status.Name, l.status.LeaseID, value)
	if err == nil {
		l.mu.Lock()
		l.status.Value = st.Value
		l.mu.Unlock()
	}
	return err
}

// Resign stops renewing, cancels Context and gives the leadership up: the
// first campaigner waiting becomes leader at once. A leadership that was
// already lost is not an error.
func (l *Leadership) Resign(ctx context.Context) error {
	l.k.halt(ErrReleased)
	err := l.c.Resign(ctx, l.status.Name, l.status.LeaseID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// electionPath is the escaped path of an election, '/' kept as separator.
func electionPath(name string, action ...string) string {
	return namedPath("/elections/", name, action...)
}
