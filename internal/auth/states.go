package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

const (
	// defaultStateTTL is how long a sign-in may take between Begin and
	// Finish.
	defaultStateTTL = 10 * time.Minute
	// maxPendingStates bounds memory under a flood of sign-in starts; past
	// it the oldest pending state is forgotten.
	maxPendingStates = 10000
)

// pendingStates remembers OAuth states between the redirect to GitHub and
// the callback: single use, short-lived, bound to a browser cookie, and
// bounded in number.
type pendingStates struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	byKey map[string]pendingState
	order []string // insertion order, for evicting the oldest
}

type pendingState struct {
	binding [sha256.Size]byte // digest of the browser's cookie value
	expires time.Time
}

func newPendingStates(max int, ttl time.Duration) *pendingStates {
	return &pendingStates{max: max, ttl: ttl, byKey: make(map[string]pendingState)}
}

// random returns n random bytes, base64url-encoded.
func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// add creates a state (256 random bits) and its cookie binding.
func (p *pendingStates) add(now time.Time) (state, binding string) {
	state, binding = random(32), random(32)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(now)
	p.byKey[state] = pendingState{binding: sha256.Sum256([]byte(binding)), expires: now.Add(p.ttl)}
	p.order = append(p.order, state)
	return state, binding
}

// prune makes room for one more state. order is oldest first, so expired
// states, and the oldest when full, are at its front; states already taken
// are dropped from it as they reach the front, or all at once when they
// would make it outgrow twice the bound.
func (p *pendingStates) prune(now time.Time) {
	for len(p.order) > 0 {
		ps, ok := p.byKey[p.order[0]]
		if ok && now.Before(ps.expires) && len(p.byKey) < p.max {
			break
		}
		delete(p.byKey, p.order[0])
		p.order = p.order[1:]
	}
	if len(p.order) > 2*p.max {
		live := make([]string, 0, len(p.byKey))
		for _, key := range p.order {
			if _, ok := p.byKey[key]; ok {
				live = append(live, key)
			}
		}
		p.order = live
	}
}

// take consumes state: true only once, before it expires, and only with
// the browser binding it was created with.
func (p *pendingStates) take(now time.Time, state, binding string) bool {
	p.mu.Lock()
	ps, ok := p.byKey[state]
	delete(p.byKey, state)
	p.mu.Unlock()
	got := sha256.Sum256([]byte(binding))
	return ok && now.Before(ps.expires) && subtle.ConstantTimeCompare(got[:], ps.binding[:]) == 1
}
