package cluster

import (
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// readyMaxLag is how many committed entries a follower may have left to
// apply and still be ready: the commit index runs a moment ahead of the
// applied one under any load, and readiness must not flap with it.
const readyMaxLag = 64

// Readiness is whether this node can serve linearizable requests now
// (itself as the leader, or by forwarding to the leader), and why not.
type Readiness struct {
	Ready           bool
	Reason          string // why not, when not ready
	Role            string // leader, follower, candidate, shutdown
	Leader          string // the leader's node ID, when known
	Commit, Applied uint64
}

// Readiness answers from local knowledge only, with no Raft round trip:
// a leader is ready once its leadership barrier has applied; a follower
// when it knows the leader, has heard from it within
// a few heartbeat timeouts, and has applied what it knows is committed.
func (n *Node) Readiness() Readiness {
	_, leader := n.raft.LeaderWithID()
	st := n.raft.State()
	r := Readiness{Role: roleName(st), Leader: string(leader), Commit: n.raft.CommitIndex(), Applied: n.raft.AppliedIndex()}
	switch {
	case n.ready.Load():
		r.Ready = true
	case st == raft.Leader:
		r.Reason = "elected leader, still applying earlier entries"
	case leader == "":
		r.Reason = "no leader known"
	case time.Since(n.raft.LastContact()) > n.contactLimit():
		r.Reason = fmt.Sprintf("no contact with the leader for %v", time.Since(n.raft.LastContact()).Round(time.Millisecond))
	case r.Commit > r.Applied+readyMaxLag:
		r.Reason = fmt.Sprintf("catching up: %d committed entries not applied yet", r.Commit-r.Applied)
	default:
		r.Ready = true
	}
	return r
}

// contactLimit is how long a follower may go without hearing from the
// leader and stay ready: a few heartbeat timeouts, by when raft itself
// starts an election.
func (n *Node) contactLimit() time.Duration {
	return 3 * n.raft.ReloadableConfig().HeartbeatTimeout
}

func roleName(s raft.RaftState) string {
	switch s {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	}
	return "shutdown"
}
