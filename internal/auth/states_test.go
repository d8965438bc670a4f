package auth

import (
	"testing"
	"time"
)

func TestPendingStates(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	t.Run("SingleUseAndBound", func(t *testing.T) {
		p := newPendingStates(10, defaultStateTTL)
		state, binding := p.add(now)
		if len(state) < 22 { // 128 bits in base64url
			t.Fatalf("state %q too short", state)
		}
		if p.take(now, state, "other-browser") {
			t.Fatal("accepted a foreign cookie")
		}
		state, binding = p.add(now)
		if !p.take(now, state, binding) || p.take(now, state, binding) {
			t.Fatal("state not single use")
		}
	})
	t.Run("Expires", func(t *testing.T) {
		p := newPendingStates(10, defaultStateTTL)
		state, binding := p.add(now)
		if p.take(now.Add(defaultStateTTL), state, binding) {
			t.Fatal("accepted an expired state")
		}
	})
	t.Run("FloodKeepsMemoryBounded", func(t *testing.T) {
		p := newPendingStates(100, defaultStateTTL)
		first, firstBinding := p.add(now)
		for i := 0; i < 10_000; i++ {
			s, b := p.add(now)
			if i%2 == 0 {
				p.take(now, s, b) // consumed states must not pile up either
			}
		}
		if len(p.byKey) > 100 || len(p.order) > 2*100+1 {
			t.Fatalf("%d pending, %d in order", len(p.byKey), len(p.order))
		}
		if p.take(now, first, firstBinding) {
			t.Fatal("the oldest state survived a flood")
		}
		s, b := p.add(now)
		if !p.take(now, s, b) {
			t.Fatal("a fresh state was lost")
		}
	})
}
