package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Lock is a held lock as its holder sees it.
type Lock struct {
	Status       string    `json:"status"` // "acquired" (a new grant) or "held" (already the caller's)
	Name         string    `json:"name"`
	LeaseID      string    `json:"lease_id"`
	FencingToken uint64    `json:"fencing_token"`
	ExpiresAt    time.Time `json:"expires_at"` // the server's expiry of the lease
	Holder       string    `json:"holder"`
	SessionID    string    `json:"session_id,omitempty"`
	Metadata     string    `json:"metadata,omitempty"`
	// Limit and Mode are set for a semaphore or read/write lock: the
	// name's slots (1 for a read/write lock) and the holders' mode. A
	// plain mutex's answers leave them empty.
	Limit int  `json:"limit,omitempty"`
	Mode  Mode `json:"mode,omitempty"`
}

// Mode is how a read/write lock is held.
type Mode string

const (
	// Exclusive is the writer's mode, and a mutex's or semaphore slot's.
	Exclusive Mode = "exclusive"
	// Shared is the readers' mode: any number of shared holders together,
	// never with an exclusive one.
	Shared Mode = "shared"
)

// Holder is one holder of a semaphore or read/write lock.
type Holder struct {
	LeaseID      string    `json:"lease_id"`
	FencingToken uint64    `json:"fencing_token"`
	Holder       string    `json:"holder"`
	ExpiresAt    time.Time `json:"expires_at"`
	SessionID    string    `json:"session_id,omitempty"`
	Metadata     string    `json:"metadata,omitempty"`
}

// AcquireOptions are the options of an acquire. TTL is rounded up to
// whole seconds (1s to 1h).
type AcquireOptions struct {
	TTL       time.Duration // how long the lease lasts unless renewed
	Wait      time.Duration // wait up to this long (at most 5m) in the lock's FIFO queue; 0 is a try-lock
	SessionID string        // acquire with this session: released when it ends
	Metadata  string        // free text stored with the lock (≤ 1024 bytes)
	// Limit N (2 to 1000) holds the name as a counting semaphore of N
	// slots: every acquire is a new slot with its own lease and fencing
	// token, also by a holder that has one. Every holder must ask with the
	// same limit (else ErrLimitMismatch). 0 or 1 is a mutex.
	Limit int
	// Mode Shared holds a read/write lock as a reader (Limit 0 or 1);
	// empty or Exclusive is the writer, as a mutex. Waiting is FIFO across
	// modes, so readers cannot starve a waiting writer.
	Mode Mode
}

type acquireBody struct {
	TTLSeconds  int64  `json:"ttl_seconds"`
	SessionID   string `json:"session_id,omitempty"`
	Metadata    string `json:"metadata,omitempty"`
	WaitSeconds int64  `json:"wait_seconds,omitempty"`
	Limit       int    `json:"limit,omitempty"`
	Mode        Mode   `json:"mode,omitempty"`
}

// Acquire takes the lock name. When someone else holds it the error
// matches ErrLockHeld and HeldBy tells who, until when; with Wait the
// request first waits its turn. A semaphore asked with another limit than
// its holders' is ErrLimitMismatch (APIError.Limit names theirs). A lost
// answer is ErrOutcomeUnknown: the lock may be the caller's, and acquiring
// again (the same holder of a mutex gets "held" with the same lease) finds
// out.
func (c *Client) Acquire(ctx context.Context, name string, o AcquireOptions) (*Lock, error) {
	var l Lock
	body := acquireBody{TTLSeconds: seconds(o.TTL), SessionID: o.SessionID, Metadata: o.Metadata,
		WaitSeconds: seconds(o.Wait), Limit: o.Limit, Mode: o.Mode}
	err := c.do(ctx, &call{method: http.MethodPost, path: lockPath(name, "acquire"), body: body, out: &l})
	return result(&l, err)
}

// Renew extends the lease to ttl from now. A lease that is gone (expired,
// released, never the caller's) is ErrNotFound.
func (c *Client) Renew(ctx context.Context, name, leaseID string, ttl time.Duration) (*Lock, error) {
	var l Lock
	body := map[string]any{"lease_id": leaseID, "ttl_seconds": seconds(ttl)}
	err := c.do(ctx, &call{method: http.MethodPost, path: lockPath(name, "renew"), body: body, out: &l})
	return result(&l, err)
}

// Release frees the lock held with leaseID. It is retried like a read:
// releasing a lease twice cannot release anyone else's lock, so after an
// attempt that may have succeeded, a 404 means the lease is gone, as
// wanted. A first-attempt 404 is ErrNotFound.
func (c *Client) Release(ctx context.Context, name, leaseID string) error {
	k := &call{method: http.MethodPost, path: lockPath(name, "release"), kind: idempotent,
		body: map[string]string{"lease_id": leaseID}}
	err := c.do(ctx, k)
	if k.uncertain && errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// LockStatus is what GET /locks/{name} says about a lock.
// The Lock's lease fields are the first holder's; a semaphore or a
// read/write lock held shared lists every holder, in grant order.
type LockStatus struct {
	Lock
	Held    bool     `json:"-"`       // whether anyone holds it
	Waiters int      `json:"waiters"` // acquires queued behind the holder
	Holders []Holder `json:"holders,omitempty"`
	Index   uint64   `json:"-"` // X-OctoStore-Index: pass it to a blocking Get
}

// GetOptions make Get a blocking or a stale read.
type GetOptions struct {
	Index uint64        // with Wait: return as soon as the lock changes after this index
	Wait  time.Duration // block up to this long (at most 5m)
	Stale bool          // answer from the node's own state
}

func (o GetOptions) query() url.Values {
	q := url.Values{}
	if o.Wait > 0 {
		q.Set("wait", o.Wait.String())
		q.Set("index", strconv.FormatUint(o.Index, 10))
	}
	if o.Stale {
		q.Set("stale", "true")
	}
	return q
}

// Get reads a lock's status. A lock nobody holds is not an error:
// Held is false. With o.Wait and o.Index it is a blocking read that
// returns when the lock changes after Index, or after Wait.
func (c *Client) Get(ctx context.Context, name string, o GetOptions) (*LockStatus, error) {
	var st LockStatus
	k := &call{method: http.MethodGet, path: lockPath(name), query: o.query(), kind: read, out: &st}
	if err := c.do(ctx, k); err != nil {
		return nil, err
	}
	st.Held = st.Status == "held"
	st.Index, _ = strconv.ParseUint(k.header.Get("X-OctoStore-Index"), 10, 64)
	return &st, nil
}

// ListedLock is one lock of a list.
type ListedLock struct {
	Name         string    `json:"name"`
	Status       string    `json:"status"`
	HolderID     string    `json:"holder_id"`
	Holder       string    `json:"holder"`
	FencingToken uint64    `json:"fencing_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	Metadata     *string   `json:"metadata"`
	Limit        int       `json:"limit,omitempty"` // a semaphore's or shared lock's, as in Lock
	Mode         Mode      `json:"mode,omitempty"`
	Holders      []Holder  `json:"holders,omitempty"`
}

// LockList is one page of held locks.
type LockList struct {
	Locks     []ListedLock `json:"locks"`
	Total     int          `json:"total"`
	Prefix    *string      `json:"prefix"`
	NextAfter *string      `json:"next_after"` // set when more follow: pass it as ListOptions.After
}

// ListOptions select a page of locks.
type ListOptions struct {
	Prefix string // names starting with it ("jobs/")
	After  string // names sorting after it: the previous page's NextAfter
	Limit  int    // at most this many (server default 1000, max 10000)
	Stale  bool   // answer from the node's own state
}

// List returns one page of the held locks in name order.
func (c *Client) List(ctx context.Context, o ListOptions) (*LockList, error) {
	var l LockList
	err := c.do(ctx, &call{method: http.MethodGet, path: "/locks", query: o.query(), kind: read, out: &l})
	return result(&l, err)
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.Prefix != "" {
		q.Set("prefix", o.Prefix)
	}
	if o.After != "" {
		q.Set("after", o.After)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Stale {
		q.Set("stale", "true")
	}
	return q
}

// ListAll pages through every held lock under prefix.
func (c *Client) ListAll(ctx context.Context, prefix string) ([]ListedLock, error) {
	return pageAll(nil, func(after string) ([]ListedLock, *string, error) {
		page, err := c.List(ctx, ListOptions{Prefix: prefix, After: after})
		if err != nil {
			return nil, nil, err
		}
		return page.Locks, page.NextAfter, nil
	})
}

// pageAll appends page after page to all until a page says no more
// follow, or one fails (all so far, and the error).
func pageAll[T any](all []T, page func(after string) ([]T, *string, error)) ([]T, error) {
	after := ""
	for {
		items, next, err := page(after)
		if err != nil {
			return all, err
		}
		all = append(all, items...)
		if next == nil {
			return all, nil
		}
		after = *next
	}
}

// result returns v, or nil with err.
func result[T any](v *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}
