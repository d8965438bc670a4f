package cluster

import (
	"context"

	"github.com/octostore/octostore/internal/state"
)

// refuse answers cmd without a log write when the state says applying it
// would only refuse it (state.Refusal): a try-lock on a lock someone else
// holds, a renew or release of a lease that is not the current one.
//
// The answer comes from a linearizable read (Read confirms leadership
// with a quorum first): every write acknowledged before this request began
// was applied here before its acknowledgement, by this leader or, for an
// earlier term, before this node became ready, so the refusal is what the
// log would have said at a moment within the request. Refusing is not a
// write, so nothing is lost if leadership moves right after.
//
// A first look at the local state, unconfirmed, sends everything that
// would not be refused straight to the log: a grant pays no quorum round
// for the fast path it does not take.
func (n *Node) refuse(ctx context.Context, cmd state.Command) (state.Result, bool) {
	if !n.mayRefuse(cmd) {
		return state.Result{}, false
	}
	var res state.Result
	var ok bool
	if err := n.Read(ctx, false, func(s state.View, now int64) { res, ok = s.Refusal(cmd, now) }); err != nil {
		return state.Result{}, false // the log path reports what is wrong
	}
	return res, ok
}

// mayRefuse looks at the local state without confirming anything (a
// stale read); only the commands Refusal can answer are worth the look.
func (n *Node) mayRefuse(cmd state.Command) bool {
	if !state.Refusable(cmd) {
		return false
	}
	var ok bool
	n.Read(context.Background(), true, func(s state.View, now int64) { _, ok = s.Refusal(cmd, now) })
	return ok
}
