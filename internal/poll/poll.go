// Package poll waits for conditions in tests and test harnesses: it polls
// with a deadline, so a test waits exactly as long as the state takes to
// arrive instead of sleeping for a guessed time. It has no dependencies,
// so every package's tests can use it, including those the test helpers
// in internal/apitest build on.
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
