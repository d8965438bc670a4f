package apitest

import (
	"testing"
	"time"
)

// Eventually polls cond every 10 ms until it holds, failing the test if
// it still does not after within. Tests wait for conditions with it
// instead of sleeping.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
