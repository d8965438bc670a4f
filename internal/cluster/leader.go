package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

const (
	// expireBatch bounds one ExpireDue entry, so a mass expiry never makes
	// one huge log entry that delays other writes.
	expireBatch = 1024
	// expiryRecheck bounds how late the loop notices a deadline that a
	// newer, shorter grant put ahead of the one it was sleeping towards.
	expiryRecheck = 250 * time.Millisecond
)

// watchLeadership turns raft's leadership notifications into the ready
// flag. A new leader becomes ready only after a barrier has applied every
// earlier entry, so its reads and its expiry decisions see the whole log.
func (n *Node) watchLeadership() {
	for {
		select {
		case <-n.shutdownCh:
			n.setReady(false)
			return
		case leader := <-n.notify:
			if !leader {
				n.setReady(false)
				continue
			}
			if err := n.raft.Barrier(0).Error(); err != nil {
				n.log.Warn("leadership barrier failed", "err", err)
				continue
			}
			if err := n.dropOrphanWaiters(); err != nil {
				n.log.Warn("clearing waiters of the previous leadership", "err", err)
				continue
			}
			if n.raft.State() == raft.Leader {
				n.setReady(true)
			}
		}
	}
}

func (n *Node) setReady(ready bool) {
	n.readyMu.Lock()
	defer n.readyMu.Unlock()
	if n.ready.Load() == ready {
		return
	}
	n.ready.Store(ready)
	if ready {
		close(n.readyCh)
		n.leaderCtx, n.stopLeader = context.WithCancel(context.Background())
		for _, task := range n.leaderTasks {
			n.startTask(task)
		}
		n.log.Info("leader ready", "node_id", n.id)
		return
	}
	n.readyCh = make(chan struct{})
	n.stopLeader()
	n.log.Info("no longer leader", "node_id", n.id)
}

// dropOrphanWaiters empties the lock queues before a new leadership
// serves: the requests that waited in them were connections to a previous
// leader (or a previous run of this one) and are gone, and a lock granted
// to one of them would stay held by nobody for its TTL.
func (n *Node) dropOrphanWaiters() error {
	n.fsm.mu.RLock()
	queued := n.fsm.st.HasWaiters()
	n.fsm.mu.RUnlock()
	if !queued {
		return nil
	}
	// Not through Apply: the node is not ready until this is done.
	return proposeError(n.proposeCommands(state.CancelAllWaiters{}).Error())
}

// WaitReady blocks until this node is a ready leader or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	n.readyMu.Lock()
	ch := n.readyCh
	n.readyMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// IsReady reports whether this node is the leader and has caught up.
func (n *Node) IsReady() bool { return n.ready.Load() }

// runExpiry proposes ExpireDue whenever the earliest deadline in the state
// has passed. It runs only on a ready leader and stops the moment
// leadership is lost; the state machine re-checks every deadline against
// the entry's own time, so a late or duplicate proposal is harmless.
func (n *Node) runExpiry(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		timer.Reset(n.expireOnce(ctx))
	}
}

// expireOnce expires what is due and returns how long to wait.
func (n *Node) expireOnce(ctx context.Context) time.Duration {
	next, ok := n.nextDeadline()
	now := time.Now().UnixNano()
	if !ok {
		return expiryRecheck
	}
	if next > now {
		return min(expiryRecheck, time.Duration(next-now))
	}
	res, err := n.Apply(ctx, state.ExpireDue{Limit: expireBatch})
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		n.log.Warn("expiry proposal failed", "err", err)
		return 100 * time.Millisecond
	case res.Count == expireBatch:
		return 0
	}
	return time.Millisecond
}

func (n *Node) nextDeadline() (int64, bool) {
	n.fsm.mu.RLock()
	defer n.fsm.mu.RUnlock()
	return n.fsm.st.NextDeadline()
}

// nodeID returns cfg.NodeID, or the ID stored in the data dir, creating a
// random one on first start.
func nodeID(cfg Config) (string, error) {
	if cfg.NodeID != "" {
		return cfg.NodeID, nil
	}
	if cfg.Certs != nil && cfg.RaftAddr != "" {
		return certNodeID(*cfg.Certs)
	}
	path := filepath.Join(cfg.DataDir, "node-id")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	if cfg.Offline { // a maintenance command must not give the node a new identity
		return "", fmt.Errorf("%s stores no node ID: give the --node-id its server runs with", cfg.DataDir)
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := "node-" + hex.EncodeToString(b[:])
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}
