package server

import (
	"context"
	"time"
)

// joinLoop asks the members at JoinAddrs, in turn, over the node channel,
// to take this node in, until one accepts. It is idempotent on the
// leader's side, so a restarted member re-sends it harmlessly (and
// thereby updates a changed address).
func (s *Server) joinLoop(ctx context.Context) {
	wait := 200 * time.Millisecond
	for attempt := 0; ctx.Err() == nil; attempt++ {
		target := s.cfg.JoinAddrs[attempt%len(s.cfg.JoinAddrs)]
		attemptCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := s.node.AskToJoin(attemptCtx, target)
		cancel()
		if err == nil {
			s.cfg.Logger.Info("joined the cluster", "via", target, "node_id", s.node.ID())
			return
		}
		s.cfg.Logger.Warn("join failed, retrying", "via", target, "err", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, 5*time.Second)
	}
}
