package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// keeper keeps something with a TTL alive (a lease, a session) by calling
// refresh periodically, and cancels its context the moment it can no
// longer prove the thing is alive: refresh failed definitively, or the
// local deadline passed. The deadline is always measured on the monotonic
// clock from a reading taken before the request that confirmed it was
// sent: deadline = sent + ttl - margin.
type keeper struct {
	ttl, margin, every time.Duration
	refresh            func(ctx context.Context) error
	lostErr            error // ErrLeaseLost or ErrSessionLost

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	mu       sync.Mutex
	sent     time.Time // the send time of the last confirmed request
	deadline *time.Timer
}

// keptTTL is the TTL to keep (def when unset) in the whole seconds the
// server counts, and the safety margin for it: margin, or by default
// max(ttl/10, min(1s, ttl/3)). A margin that is not shorter than the TTL
// would leave nothing to keep.
func keptTTL(ttl, def, margin time.Duration) (time.Duration, time.Duration, error) {
	if ttl <= 0 {
		ttl = def
	}
	ttl = time.Duration(seconds(ttl)) * time.Second
	if margin <= 0 {
		margin = max(ttl/10, min(time.Second, ttl/3))
	}
	if margin >= ttl {
		return 0, 0, fmt.Errorf("%w: safety margin %v must be shorter than the TTL %v", ErrInvalid, margin, ttl)
	}
	return ttl, margin, nil
}

// startKeeper begins keeping alive what the request sent at sent
// confirmed. It refreshes every `every`.
func startKeeper(sent time.Time, ttl, margin, every time.Duration, lostErr error,
	refresh func(context.Context) error) *keeper {
	k := &keeper{ttl: ttl, margin: margin, every: every, refresh: refresh, lostErr: lostErr,
		done: make(chan struct{}), sent: sent}
	k.ctx, k.cancel = context.WithCancelCause(context.Background())
	k.deadline = time.AfterFunc(time.Until(k.localDeadline()), func() {
		k.lose(errors.New("no renewal confirmed before the local deadline"))
	})
	go k.run()
	return k
}

// localDeadline is when the context is cancelled unless a refresh is
// confirmed first. Callers hold mu.
func (k *keeper) localDeadline() time.Time { return k.sent.Add(k.ttl - k.margin) }

// Deadline is the local deadline.
func (k *keeper) Deadline() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.localDeadline()
}

// Expiry is the earliest the server can consider the thing expired: the
// last confirmed send time plus the TTL.
func (k *keeper) Expiry() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sent.Add(k.ttl)
}

func (k *keeper) run() {
	defer close(k.done)
	wait := k.every
	for failures := 0; sleep(k.ctx, wait); {
		sent := time.Now()
		rctx, cancel := context.WithDeadline(k.ctx, k.Deadline())
		err := k.refresh(rctx)
		cancel()
		switch {
		case err == nil:
			k.confirm(sent)
			wait, failures = k.every, 0
		case definitive(err):
			k.lose(err)
			return
		default:
			failures++
			wait = retryDelay(failures, k.every)
		}
	}
}

// definitive failures mean the lease or session is gone for sure.
func definitive(err error) bool {
	for _, e := range []error{ErrNotFound, ErrLockHeld, ErrSessionExpired, ErrUnauthorized, ErrForbidden, ErrInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// retryDelay backs off from 100ms, never waiting longer than every.
func retryDelay(failures int, every time.Duration) time.Duration {
	ceiling := min(every, 100*time.Millisecond<<min(failures-1, 10))
	return ceiling/2 + time.Duration(rand.Int64N(int64(ceiling/2)+1))
}

// confirm moves the deadline after a refresh sent at sent succeeded.
func (k *keeper) confirm(sent time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ctx.Err() != nil || !sent.After(k.sent) {
		return
	}
	k.sent = sent
	k.deadline.Reset(time.Until(k.localDeadline()))
}

// lose cancels the context with the reason.
func (k *keeper) lose(reason error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cancel(fmt.Errorf("%w: %w", k.lostErr, reason))
}

// halt stops refreshing and cancels the context with cause, unless it
// was lost already. It waits for the refresher to finish; calling it
// again is harmless.
func (k *keeper) halt(cause error) {
	k.mu.Lock()
	k.deadline.Stop()
	k.cancel(cause)
	k.mu.Unlock()
	<-k.done
}
