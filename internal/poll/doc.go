// Package poll waits for conditions in tests and test harnesses: it polls
// with a deadline, so a test waits exactly as long as the state takes to
// arrive instead of sleeping for a guessed time. It has no dependencies,
// so every package's tests can use it, including those the test helpers
// in internal/apitest build on.
package poll
