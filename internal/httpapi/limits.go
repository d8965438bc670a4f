package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Limits bound what one user, and all users together, may ask of a node.
// Zero values mean no limit.
type Limits struct {
	// MaxLocksPerUser and MaxSessionsPerUser are quotas enforced by the
	// state machine: the limit travels in the command.
	MaxLocksPerUser    int
	MaxSessionsPerUser int
	// Rate is each user's sustained requests per second on this node and
	// Burst how many it may make at once (a token bucket).
	Rate  float64
	Burst int
	// MaxInFlight bounds the short requests being served at once; beyond
	// it a request is answered 503 at once instead of queueing.
	MaxInFlight int
	// MaxWaiting bounds the long waits (waiting acquires, blocking reads)
	// held at once; they do not count against MaxInFlight. Beyond it a
	// waiting acquire is answered as a try-lock and a blocking read at once.
	MaxWaiting int
	// MaxInFlightPerUser bounds one user's requests being read or served
	// at once, and MaxInFlightPerAddr those of one client address (an IPv6
	// /64) to public routes, so that no one client can take most of
	// MaxInFlight. Beyond them a request is answered 429 at once. Waits and
	// event streams, which have their own limits, do not count.
	MaxInFlightPerUser int
	MaxInFlightPerAddr int
	// AuthFailureLimit is how many failed authentications (a missing or
	// unknown token) one client address (an IPv6 /64) may make a minute;
	// beyond it its requests without a valid token are answered 429
	// until the minute ends. Requests with a valid token are never
	// refused by it.
	AuthFailureLimit int
	// BodyTimeout is how long a request body may take to arrive once the
	// server starts reading it; a slower one is answered 408 and its
	// connection closed.
	BodyTimeout time.Duration
}

// Errors of admission control.
var (
	ErrRateLimited     = errors.New("rate limit exceeded")
	ErrOverloaded      = errors.New("too many concurrent requests")
	ErrTooManyInFlight = errors.New("too many concurrent requests from this client")
)

// retryError carries how long the client should wait before retrying;
// writeError turns it into Retry-After.
type retryError struct {
	err   error
	after time.Duration
}

// Error is the wrapped error's text.
func (e retryError) Error() string { return e.err.Error() }

// Unwrap lets errors.Is find the sentinel.
func (e retryError) Unwrap() error { return e.err }

// retryAfter is the Retry-After value for err: whole seconds, at least 1.
func retryAfter(err error) string {
	var re retryError
	if errors.As(err, &re) && re.after > time.Second {
		return strconv.FormatInt(int64(math.Ceil(re.after.Seconds())), 10)
	}
	return "1"
}

// rateLimiter is a token bucket per user. Buckets that have refilled are
// forgotten once there are many, so memory follows active users.
type rateLimiter struct {
	rate, burst float64
	mu          sync.Mutex
	buckets     map[uuid.UUID]*bucket
	swept       time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

const sweepAbove = 10_000 // buckets kept before full ones are dropped

func newRateLimiter(rate float64, burst int) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	return &rateLimiter{rate: rate, burst: max(float64(burst), 1), buckets: map[uuid.UUID]*bucket{}}
}

// allow takes one token from user's bucket, or says how long until one is
// there. A nil limiter allows everything.
func (l *rateLimiter) allow(user uuid.UUID, now time.Time) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[user]
	if b == nil {
		l.sweep(now)
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[user] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// sweep drops full buckets (a full bucket is what a new user gets) when
// there are many, at most once a second.
func (l *rateLimiter) sweep(now time.Time) {
	if len(l.buckets) < sweepAbove || now.Sub(l.swept) < time.Second {
		return
	}
	l.swept = now
	for id, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, id)
		}
	}
}

// semaphore is a counting semaphore that never blocks; without slots it
// admits all. It counts what it holds either way, for the metrics.
type semaphore struct {
	slots chan struct{} // nil: no limit
	held  atomic.Int64
}

func newSemaphore(n int) *semaphore {
	s := &semaphore{}
	if n > 0 {
		s.slots = make(chan struct{}, n)
	}
	return s
}

func (s *semaphore) tryAcquire() bool {
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
		default:
			return false
		}
	}
	s.held.Add(1)
	return true
}

func (s *semaphore) release() {
	s.held.Add(-1)
	if s.slots != nil {
		<-s.slots
	}
}

// Load is how many requests hold a short slot and how many a waiting
// slot now.
func (a *API) Load() (inFlight, waiting int64) { return a.inFlight.held.Load(), a.waiting.held.Load() }

// admission is a request's hold on the node's capacity: a slot among
// its client's requests and a short slot while it works, swapped for a
// waiting slot while it waits. Probes have none and never park.
type admission struct {
	a           *API
	short, long bool
	client      clientKey
	counted     bool // a slot among client's requests is held
}

// enterAs takes a slot among the requests of client k, of which there may
// be limit at once (none when limit is 0), or fails with
// ErrTooManyInFlight.
func (ad *admission) enterAs(k clientKey, limit int) error {
	if limit <= 0 {
		return nil
	}
	if !ad.a.clients.tryAcquire(k, limit) {
		return ErrTooManyInFlight
	}
	ad.client, ad.counted = k, true
	return nil
}

// admit takes a short slot, or fails with ErrOverloaded.
func (ad *admission) admit() error {
	if !ad.a.inFlight.tryAcquire() {
		return ErrOverloaded
	}
	ad.short = true
	return nil
}

// park turns the short slot into a waiting slot before a wait of up to
// wait, so waiting requests never starve short ones, and lets the
// response be written that late (the server's write timeout is shorter
// than the longest wait). It reports false, keeping the short slot, when
// the waiting slots are all taken.
func (ad *admission) park(w http.ResponseWriter, wait time.Duration) bool {
	if !ad.a.waiting.tryAcquire() {
		return false
	}
	ad.long = true
	ad.leave()
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + 30*time.Second))
	return true
}

// leave gives the short slot and the client's slot back early: waits and
// event streams are counted by their own limits, and a client may have
// many of them (a fleet of workers waiting for one lock).
func (ad *admission) leave() {
	if ad.short {
		ad.short = false
		ad.a.inFlight.release()
	}
	if ad.counted {
		ad.counted = false
		ad.a.clients.release(ad.client)
	}
}

// done releases whatever the request still holds.
func (ad *admission) done() {
	ad.leave()
	if ad.long {
		ad.long = false
		ad.a.waiting.release()
	}
}

// rateLimit charges one request to user.
func (a *API) rateLimit(user uuid.UUID) error {
	if wait, ok := a.limiter.allow(user, time.Now()); !ok {
		return retryError{ErrRateLimited, wait}
	}
	return nil
}
