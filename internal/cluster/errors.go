package cluster

import (
	"errors"

	"github.com/hashicorp/raft"
)

// Errors a caller of Apply and Read must tell apart.
var (
	// ErrNotLeader means the request was not applied: this node is not a
	// ready leader. It is always safe to retry.
	ErrNotLeader = errors.New("no leader available")
	// ErrOutcomeUnknown means the command may or may not have been applied:
	// leadership or the node was lost after it was proposed.
	ErrOutcomeUnknown = errors.New("outcome unknown: leadership was lost while committing")
	// ErrShutdown means the node is closing; nothing was proposed.
	ErrShutdown = errors.New("node is shutting down")
	// ErrDataDirInUse: another process (a running server) holds the data
	// dir's Raft log open.
	ErrDataDirInUse = errors.New("data dir is in use by another process")
	// ErrNotSoleVoter: an Offline node was opened on a data dir that
	// belongs to a cluster of more than this one voter.
	ErrNotSoleVoter = errors.New("this data dir belongs to a cluster member, not a single node")
)

// proposeError classifies an error from a raft future of a proposed entry.
func proposeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return ErrNotLeader
	default:
		// ErrLeadershipLost, ErrRaftShutdown after dispatch, anything else:
		// the entry may have been committed.
		return errors.Join(ErrOutcomeUnknown, err)
	}
}
