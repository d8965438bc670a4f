package poll

import (
	"testing"
	"time"
)

// Interval is how often a condition is checked.
const Interval = 10 * time.Millisecond

// Wait checks cond every Interval until it holds or within passes, and
// reports whether it held.
func Wait(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(Interval)
	}
	return true
}

// Until is Wait that fails t, naming what it waited for, when cond does
// not hold within the time.
func Until(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Wait(within, cond) {
		t.Fatalf("%s: not within %v", what, within)
	}
}
