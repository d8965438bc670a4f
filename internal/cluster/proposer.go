package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

// The proposer is our group commit. Requests queue up; one goroutine packs
// whatever is queued into a single log entry while at most maxInflight
// entries are being committed. Under load, entries grow instead of
// multiplying, so the per-entry cost of raft (encoding, bolt writes, the
// fsync) is paid once for many requests.
const (
	queueSize   = 8192
	maxBatch    = 512
	maxInflight = 2
)

type proposal struct {
	cmd state.Command
	// res points into the batch's results, which the state machine
	// allocated anyway: a Result is hundreds of bytes, and a proposal
	// holding its own copy cost as much again per request.
	res  *state.Result
	err  error
	done chan struct{}
	// patient: a waiting acquire of a lock someone else held when it was
	// proposed, which may linger for company (drain). Decided on the
	// caller's goroutine, so the proposer never takes the state's lock.
	patient bool
}

type inflightEntry struct {
	future    raft.ApplyFuture
	proposals []*proposal
}

// Apply proposes cmd and waits until it is committed and applied, unless
// it is a refusal the state can answer without a write (refuse). A
// command's own failure (a held lock, say) is in Result.Err; the error
// return is for the ones of this package and ctx's.
func (n *Node) Apply(ctx context.Context, cmd state.Command) (state.Result, error) {
	if err := state.Validate(cmd); err != nil {
		return state.Result{}, err
	}
	if !n.ready.Load() {
		return state.Result{}, ErrNotLeader
	}
	if res, ok := n.refuse(ctx, cmd); ok {
		n.fsm.obs.Refused()
		return res, nil
	}
	p := &proposal{cmd: cmd, done: make(chan struct{}), patient: n.patient(cmd)}
	select {
	case n.queue <- p:
	case <-ctx.Done():
		return state.Result{}, ctx.Err()
	case <-n.shutdownCh:
		return state.Result{}, ErrShutdown
	}
	select {
	case <-p.done:
		if p.err != nil {
			return state.Result{}, p.err
		}
		return *p.res, nil
	case <-ctx.Done():
		// Queued already: whether it applies is now unknown to the caller.
		return state.Result{}, ctx.Err()
	case <-n.closed:
		// Close finished every proposal it dispatched, so this one was
		// queued too late to be proposed.
		return state.Result{}, ErrShutdown
	}
}

func (n *Node) runProposer() {
	defer close(n.completions)
	for {
		var first *proposal
		select {
		case first = <-n.queue:
		case <-n.shutdownCh:
			return
		}
		select {
		case n.slots <- struct{}{}:
		case <-n.shutdownCh:
			finish([]*proposal{first}, nil, ErrShutdown)
			return
		}
		batch := n.drain(first)
		n.completions <- inflightEntry{future: n.propose(batch), proposals: batch}
	}
}

// patientLinger is how long a batch of nothing but patient proposals
// waits for company before it is proposed. A waiting acquire of a lock
// someone else holds is in no hurry (it queues behind that holder), while
// on a contended lock the release that hands the lock on tends to arrive
// a moment later; proposed alone, the acquire's fsync would make that
// release wait for a second one. Sharing one entry makes a handoff one
// commit. (BENCHMARKS.md: 1 ms gave 1.04-1.08 log writes per grant at 16
// waiters, 2 ms 1.01-1.04.)
const patientLinger = 2 * time.Millisecond

// drain collects what is already queued; a batch of only patient
// proposals also waits, up to n.linger in all, for one that is not:
// another patient one joins the batch but is no reason to stop waiting
// (it is what a releasing holder sends next, and the release that hands
// the lock on is still to come).
func (n *Node) drain(first *proposal) []*proposal {
	batch := n.collect([]*proposal{first})
	if !allPatient(batch) || len(batch) >= maxBatch {
		return batch
	}
	t := time.NewTimer(n.linger)
	defer t.Stop()
	for {
		select {
		case p := <-n.queue:
			batch = n.collect(append(batch, p))
			if !allPatient(batch) || len(batch) >= maxBatch {
				return batch
			}
		case <-t.C:
			return batch
		case <-n.shutdownCh:
			return batch
		}
	}
}

// allPatient reports whether every proposal is patient.
func allPatient(batch []*proposal) bool {
	for _, p := range batch {
		if !p.patient {
			return false
		}
	}
	return true
}

// patient reports whether cmd is a waiting acquire of a lock another
// holder has now. A waiting acquire of a free lock is granted at once,
// so it does not wait.
func (n *Node) patient(cmd state.Command) bool {
	var a state.Acquire
	switch c := cmd.(type) {
	case state.Acquire:
		if c.Limit > 1 || c.Mode == state.Shared {
			return false // a free slot or a shared hold may grant it at once
		}
		a = c
	case state.Campaign: // a waiting acquire of the election's lock
		a = c.Acquire()
	default:
		return false
	}
	return a.Wait > 0 && n.lockHeldByOther(a)
}

// lockHeldByOther reports, from local memory, whether a's lock has a
// live holder other than a's: a hint for lingering, never an answer.
func (n *Node) lockHeldByOther(a state.Acquire) (other bool) {
	n.Read(context.Background(), true, func(s state.View, now int64) {
		l, held := s.GetLock(a.Name, now)
		other = held && (l.HolderID != a.HolderID || l.SessionID != a.SessionID)
	})
	return other
}

// collect adds what is already queued to batch, without waiting for more.
func (n *Node) collect(batch []*proposal) []*proposal {
	for len(batch) < maxBatch {
		select {
		case p := <-n.queue:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

func (n *Node) propose(batch []*proposal) raft.ApplyFuture {
	cmds := make([]state.Command, len(batch))
	for i, p := range batch {
		cmds[i] = p.cmd
	}
	return n.proposeCommands(cmds...)
}

// proposeCommands appends one log entry carrying cmds, stamped with the
// leader's clock: the one way commands reach the log.
func (n *Node) proposeCommands(cmds ...state.Command) raft.ApplyFuture {
	b := state.Batch{Now: time.Now().UnixNano(), Skew: n.cfg.Skew, Commands: cmds}
	return n.raft.Apply(state.EncodeBatch(b), 0)
}

// runCompleter hands results back in commit order, which is the order the
// entries were proposed in.
func (n *Node) runCompleter() {
	defer close(n.completerDone)
	for e := range n.completions {
		err := proposeError(e.future.Error())
		<-n.slots
		var results []state.Result
		if err == nil {
			switch r := e.future.Response().(type) {
			case []state.Result:
				results = r
			case error:
				err = r
			}
		}
		finish(e.proposals, results, err)
	}
}

// errMissingResult: the state machine answered a batch with fewer results
// than commands, which it never does; were it to, the caller learns that
// its command's outcome is unknown rather than reading a zero Result.
var errMissingResult = fmt.Errorf("%w: the state machine returned no result", ErrOutcomeUnknown)

func finish(ps []*proposal, results []state.Result, err error) {
	for i, p := range ps {
		switch {
		case err != nil:
			p.err = err
		case i < len(results):
			p.res = &results[i]
		default:
			p.err = errMissingResult
		}
		close(p.done)
	}
}
