package cluster

import (
	"context"
	"sync"
)

// leaderCheck shares leadership confirmations between concurrent
// linearizable reads. A confirmation (raft's VerifyLeader) goes through
// the leader's main loop, which also writes the log: on a contended lock,
// every spinning try-lock asked for its own and queued behind each fsync.
//
// A read may use any confirmation that starts after the read began: it
// proves leadership at a moment within the read, which is all
// linearizability asks. So readers that arrive while a confirmation runs
// wait for the next one, and that one serves all of them: at most one
// runs and one is pending, whatever the number of readers.
type leaderCheck struct {
	verify func() error // raft's VerifyLeader; replaced in tests

	mu      sync.Mutex
	running bool
	next    *checkRound // pending: starts when the running one ends
}

// checkRound is one confirmation and everyone waiting for it.
type checkRound struct {
	done    chan struct{}
	err     error
	readers int // how many share it; guarded by leaderCheck.mu
}

// confirm returns nil once a confirmation that started after the call
// succeeded, or its error, or ctx's.
func (c *leaderCheck) confirm(ctx context.Context) error {
	c.mu.Lock()
	if c.next == nil {
		c.next = &checkRound{done: make(chan struct{})}
	}
	r := c.next
	r.readers++
	if !c.running {
		c.running, c.next = true, nil
		go c.run(r)
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run confirms r, then each round that gathered readers meanwhile.
func (c *leaderCheck) run(r *checkRound) {
	for r != nil {
		r.err = c.verify()
		close(r.done)
		c.mu.Lock()
		r, c.next = c.next, nil
		c.running = r != nil
		c.mu.Unlock()
	}
}
