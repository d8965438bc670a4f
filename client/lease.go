package client

import (
	"context"
	"errors"
	"time"
)

// ErrReleased is the cause of a Lease's or Session's Context after
// Release or Close.
var ErrReleased = errors.New("released")

// LeaseOptions configure Hold.
type LeaseOptions struct {
	TTL       time.Duration // the lease's TTL (whole seconds, 1s to 1h); default 30s
	Wait      time.Duration // wait up to this long (at most 5m) for the lock; 0 fails at once when held
	SessionID string        // acquire with this session
	Metadata  string        // stored with the lock
	Limit     int           // hold a slot of a counting semaphore of this many (see AcquireOptions)
	Mode      Mode          // Shared holds a read/write lock as a reader (see AcquireOptions)

	// SafetyMargin is how long before the earliest possible server expiry
	// the Context is cancelled; default max(TTL/10, min(1s, TTL/3)).
	SafetyMargin time.Duration
	// RenewEvery is the renewal interval; default TTL/3.
	RenewEvery time.Duration
}

func (o *LeaseOptions) defaults() (err error) {
	o.TTL, o.SafetyMargin, err = keptTTL(o.TTL, 30*time.Second, o.SafetyMargin)
	if o.RenewEvery <= 0 {
		o.RenewEvery = o.TTL / 3
	}
	return err
}

// Lease is a held lock that renews itself until Release. Its Context is
// cancelled the moment the lease can no longer be proven held.
type Lease struct {
	c    *Client
	lock Lock
	k    *keeper
}

// Hold acquires the lock name (waiting up to o.Wait for it) and keeps it
// renewed in the background. ctx bounds the acquire only; the lease lasts
// until Release or until it is lost (see Context). With o.Limit or o.Mode
// it holds a semaphore's slot or a read/write lock (see Semaphore and
// RWLock), each slot renewed and released by its own lease.
//
// The holder of a lock is the token's user, or with SessionID that
// session: one user acquiring a mutex it already holds gets the same lease
// back ("held"), not a conflict. Processes or goroutines sharing a token
// that must exclude each other should each hold through their own Session
// (Session.Hold).
//
// The lease's local deadline is sent + TTL - SafetyMargin, where sent is
// a monotonic clock reading taken before the acquire (or the last
// successful renew) was sent: the server computes the expiry from a later
// moment, so the local deadline always comes first. After a waited
// acquire, when the grant may have come long after the request was sent,
// Hold renews once at once so the deadline starts from a fresh reading.
func (c *Client) Hold(ctx context.Context, name string, o LeaseOptions) (*Lease, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	l := &Lease{c: c}
	var err error
	l.k, err = keep(ctx, o, ErrLeaseLost, func(ctx context.Context) error {
		lock, err := c.Acquire(ctx, name, AcquireOptions{TTL: o.TTL, Wait: o.Wait, SessionID: o.SessionID,
			Metadata: o.Metadata, Limit: o.Limit, Mode: o.Mode})
		if err == nil {
			l.lock = *lock
		}
		return err
	}, func(ctx context.Context) error {
		_, err := c.Renew(ctx, name, l.lock.LeaseID, o.TTL)
		return err
	}, func(ctx context.Context) error { return c.Release(ctx, name, l.lock.LeaseID) })
	if err != nil {
		return nil, err
	}
	return l, nil
}

// keep grants something with a TTL (a lease, a leadership) and keeps it
// alive with refresh, as Hold describes: the deadline runs from a clock
// reading taken before grant was sent, and after a waited grant that
// took longer than o.RenewEvery, refresh runs once at once so it runs
// from a fresh reading (what refresh cannot confirm is given back with
// release).
func keep(ctx context.Context, o LeaseOptions, lostErr error, grant, refresh, release func(context.Context) error) (*keeper, error) {
	sent := time.Now()
	if err := grant(ctx); err != nil {
		return nil, err
	}
	if o.Wait > 0 && time.Since(sent) > o.RenewEvery {
		sent = time.Now()
		if err := refresh(ctx); err != nil {
			return nil, errors.Join(err, release(context.WithoutCancel(ctx)))
		}
	}
	return startKeeper(sent, o.TTL, o.SafetyMargin, o.RenewEvery, lostErr, refresh), nil
}

// Name is the lock's name.
func (l *Lease) Name() string { return l.lock.Name }

// LeaseID is the lease's ID.
func (l *Lease) LeaseID() string { return l.lock.LeaseID }

// FencingToken is the lease's fencing token: send it with every write to
// the resource the lock protects, which must refuse a token lower than
// the highest it has seen.
func (l *Lease) FencingToken() uint64 { return l.lock.FencingToken }

// Lock is the acquire's answer.
func (l *Lease) Lock() Lock { return l.lock }

// Context is cancelled when the lease is lost (context.Cause matches
// ErrLeaseLost, and says why: a refused renewal, or the local deadline
// passed without a confirmed one) or released (ErrReleased).
func (l *Lease) Context() context.Context { return l.k.ctx }

// Err is nil while the lease is held, else why it is not.
func (l *Lease) Err() error { return context.Cause(l.k.ctx) }

// Deadline is the local deadline: when Context is cancelled unless a
// renewal is confirmed first.
func (l *Lease) Deadline() time.Time { return l.k.Deadline() }

// Expiry is the earliest moment the server may consider the lease expired
// (last confirmed send time + TTL, on this machine's monotonic clock).
// Past it, nothing the holder does is protected by the lock.
func (l *Lease) Expiry() time.Time { return l.k.Expiry() }

// Release stops renewing, cancels Context and releases the lock. A lease
// that was already lost is not an error.
func (l *Lease) Release(ctx context.Context) error {
	l.k.halt(ErrReleased)
	err := l.c.Release(ctx, l.lock.Name, l.lock.LeaseID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// SessionOptions configure StartSession.
type SessionOptions struct {
	TTL time.Duration // 10s to 300s; default 60s
	// KeepAliveEvery is the keepalive interval; default the server's
	// keepalive_interval_secs (TTL/2).
	KeepAliveEvery time.Duration
	// SafetyMargin is as for leases; default max(TTL/10, min(1s, TTL/3)).
	SafetyMargin time.Duration
}

// Session is a session kept alive in the background until Close.
type Session struct {
	c     *Client
	grant SessionGrant
	k     *keeper
}

// StartSession creates a session and keeps it alive. Its Context is
// cancelled the moment it can no longer be proven alive.
func (c *Client) StartSession(ctx context.Context, o SessionOptions) (*Session, error) {
	var err error
	if o.TTL, o.SafetyMargin, err = keptTTL(o.TTL, time.Minute, o.SafetyMargin); err != nil {
		return nil, err
	}
	sent := time.Now()
	g, err := c.CreateSession(ctx, o.TTL)
	if err != nil {
		return nil, err
	}
	if o.KeepAliveEvery <= 0 {
		o.KeepAliveEvery = time.Duration(g.KeepaliveIntervalSecs) * time.Second
	}
	if o.KeepAliveEvery <= 0 || o.KeepAliveEvery >= o.TTL-o.SafetyMargin {
		o.KeepAliveEvery = o.TTL / 3
	}
	s := &Session{c: c, grant: *g}
	s.k = startKeeper(sent, o.TTL, o.SafetyMargin, o.KeepAliveEvery, ErrSessionLost, func(ctx context.Context) error {
		_, err := c.KeepAlive(ctx, g.ID)
		return err
	})
	return s, nil
}

// ID is the session's ID, for AcquireOptions.SessionID.
func (s *Session) ID() string { return s.grant.ID }

// Context is cancelled when the session is lost (cause ErrSessionLost) or
// closed (ErrReleased).
func (s *Session) Context() context.Context { return s.k.ctx }

// Deadline is the session's local deadline.
func (s *Session) Deadline() time.Time { return s.k.Deadline() }

// Expiry is the earliest moment the server may consider the session
// expired (last confirmed send time + TTL, on the monotonic clock).
func (s *Session) Expiry() time.Time { return s.k.Expiry() }

// Hold acquires a lock with this session, renewed like any Lease; it is
// also released when the session ends.
func (s *Session) Hold(ctx context.Context, name string, o LeaseOptions) (*Lease, error) {
	o.SessionID = s.grant.ID
	return s.c.Hold(ctx, name, o)
}

// Close stops the keepalives, cancels Context and deletes the session,
// which releases its locks.
func (s *Session) Close(ctx context.Context) error {
	s.k.halt(ErrReleased)
	return s.c.DeleteSession(ctx, s.grant.ID)
}
