package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/octostore/octostore/internal/state"
)

// Token use is recorded cheaply: a request whose token's recorded last
// use (Token.LastUsed, in the state) is older than touchEvery proposes a
// TouchTokens for it, in the background, at most one at a time per token.
// So the log gets at most about one entry per token per hour, whatever
// the request rate, and the proposer batches those of many tokens. The
// same write slides a sign-in token's expiry, which is why the interval
// shrinks for short lifetimes: a token must be touched well before it
// expires.
const touchEvery = time.Hour

// touchTimeout bounds one recording; a failed one (no leader, a
// follower serving /events) is tried again at the token's next use.
const touchTimeout = 10 * time.Second

// inFlight is a set of keys with background work in progress: a task
// for a key starts only when none runs, so however many requests find
// the same work due, at most one does it. Token touches (here) and
// account re-checks (accounts.go) use it.
type inFlight[K comparable] struct {
	mu   sync.Mutex
	keys map[K]bool
}

// touchDue says whether t's recorded use is stale enough to record again
// at now.
func touchDue(t state.Token, now time.Time) bool {
	every := touchEvery
	if t.Slide > 0 {
		every = min(every, t.Slide/4)
	}
	return now.UnixNano()-t.LastUsed >= int64(every)
}

// noteUse records a use of t if one is due and none is being recorded.
func (a *API) noteUse(t state.Token) {
	if !touchDue(t, time.Now()) || !a.usage.start(t.Hash) {
		return
	}
	go a.recordUse(t.Hash) // by value: t itself stays on the caller's stack
}

func (a *API) recordUse(h state.TokenHash) {
	defer a.usage.finish(h)
	ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
	defer cancel()
	if _, err := state.Outcome(a.store.Apply(ctx, state.TouchTokens{Hashes: []state.TokenHash{h}})); err != nil {
		a.log.Debug("token use not recorded", "token_id", state.Token{Hash: h}.ID(), "err", err)
	}
}

// start claims k; false when a task for k is already running.
func (u *inFlight[K]) start(k K) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.keys[k] {
		return false
	}
	if u.keys == nil {
		u.keys = map[K]bool{}
	}
	u.keys[k] = true
	return true
}

// finish ends k's task.
func (u *inFlight[K]) finish(k K) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.keys, k)
}
