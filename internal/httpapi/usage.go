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

// usage is the set of tokens whose use is being recorded.
type usage struct {
	mu       sync.Mutex
	inFlight map[state.TokenHash]bool
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
	go func() {
		defer a.usage.finish(t.Hash)
		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		defer cancel()
		if _, err := state.Outcome(a.store.Apply(ctx, state.TouchTokens{Hashes: []state.TokenHash{t.Hash}})); err != nil {
			a.log.Debug("token use not recorded", "token_id", t.ID(), "err", err)
		}
	}()
}

func (u *usage) start(h state.TokenHash) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.inFlight[h] {
		return false
	}
	if u.inFlight == nil {
		u.inFlight = map[state.TokenHash]bool{}
	}
	u.inFlight[h] = true
	return true
}

func (u *usage) finish(h state.TokenHash) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.inFlight, h)
}
