package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/octostore/octostore/internal/httpapi"
	"github.com/octostore/octostore/internal/state"
)

// Defaults of serve's limits: generous enough that no well-behaved
// client meets them, tight enough that one runaway client cannot take a
// node down.
const (
	defaultMaxLocksPerUser    = 10_000
	defaultMaxSessionsPerUser = 1_000
	defaultRate               = 1_000 // requests per second per user
	defaultBurst              = 2_000
	defaultMaxInFlight        = 1_024
	defaultMaxWaiting         = 8_192
	// One client's share of --max-in-flight: a user's 64 cover a fleet of
	// workers sharing one token (waits do not count) and a 64-worker
	// benchmark; public routes (sign-in, join, the spec, the dashboard)
	// need few per address. Sixteen users or 64 addresses are needed to
	// fill a node.
	defaultMaxInFlightPerUser = 64
	defaultMaxInFlightPerAddr = 16
	// Failed authentications a client address may make a minute: a person
	// mistyping, or a client with a stale token retrying, stays far below;
	// a guesser gets 28,800 tries a day per address instead of millions.
	defaultAuthFailureLimit = 20
	// A request body is at most 64 KiB: 10 s allow 6.4 KiB/s.
	defaultBodyTimeout = 10 * time.Second
	maxBodyTimeout     = 5 * time.Minute
)

// addLimitFlags registers quotas, rate limits and concurrency bounds.
func addLimitFlags(fs *flag.FlagSet) *httpapi.Limits {
	l := &httpapi.Limits{}
	fs.IntVar(&l.MaxLocksPerUser, "max-locks-per-user", defaultMaxLocksPerUser, "locks one user may hold at once (0: no limit); beyond it acquires get 429")
	fs.IntVar(&l.MaxSessionsPerUser, "max-sessions-per-user", defaultMaxSessionsPerUser, "live sessions one user may have (0: no limit); beyond it 429")
	fs.Float64Var(&l.Rate, "rate-limit", defaultRate, "requests per second each user may make to this node, sustained (0: no limit); beyond it 429")
	fs.IntVar(&l.Burst, "rate-burst", defaultBurst, "requests a user may make at once before --rate-limit applies")
	fs.IntVar(&l.MaxInFlight, "max-in-flight", defaultMaxInFlight, "requests served at once (0: no limit); beyond it 503 at once, never queued")
	fs.IntVar(&l.MaxWaiting, "max-waiting", defaultMaxWaiting, "waiting acquires and blocking reads held at once (0: no limit); beyond it they answer at once")
	fs.IntVar(&l.MaxInFlightPerUser, "max-in-flight-per-user", defaultMaxInFlightPerUser, "requests one user may have being read or served at once, waits and event streams aside (0: no limit); beyond it 429")
	fs.IntVar(&l.MaxInFlightPerAddr, "max-in-flight-per-addr", defaultMaxInFlightPerAddr, "requests to public routes one client address (IPv6: /64) may have being read or served at once (0: no limit); beyond it 429")
	fs.IntVar(&l.AuthFailureLimit, "auth-failure-limit", defaultAuthFailureLimit, "failed authentications one client address (IPv6: /64) may make a minute (0: no limit); beyond it requests without a valid token get 429, valid tokens are still served")
	fs.DurationVar(&l.BodyTimeout, "body-timeout", defaultBodyTimeout, "how long a request body may take to arrive; beyond it 408 and the connection is closed")
	return l
}

func checkLimits(l *httpapi.Limits) error {
	if l.MaxLocksPerUser < 0 || l.MaxSessionsPerUser < 0 || l.Rate < 0 || l.Burst < 0 || l.MaxInFlight < 0 || l.MaxWaiting < 0 ||
		l.MaxInFlightPerUser < 0 || l.MaxInFlightPerAddr < 0 || l.AuthFailureLimit < 0 {
		return errors.New("limits must not be negative")
	}
	if l.BodyTimeout < time.Second || l.BodyTimeout > maxBodyTimeout {
		// No timeout would let slow clients hold connections for good.
		return fmt.Errorf("--body-timeout must be between 1s and %v", maxBodyTimeout)
	}
	if l.MaxLocksPerUser > state.MaxQuota || l.MaxSessionsPerUser > state.MaxQuota {
		// The quota travels in the command; the state machine refuses more.
		return fmt.Errorf("--max-locks-per-user and --max-sessions-per-user must be at most %d", state.MaxQuota)
	}
	return nil
}
