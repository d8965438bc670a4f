package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// joinLoop asks the members at JoinURLs, in turn, to take this node in,
// until one accepts. It is idempotent on the leader's side, so a
// restarted member re-sends it harmlessly (and thereby updates a changed
// address).
func (s *Server) joinLoop(ctx context.Context) {
	body, _ := json.Marshal(map[string]string{"id": s.node.ID(), "raft_addr": s.node.RaftAddr(), "http_addr": s.httpAdvertise()})
	wait := 200 * time.Millisecond
	for attempt := 0; ctx.Err() == nil; attempt++ {
		target := s.cfg.JoinURLs[attempt%len(s.cfg.JoinURLs)]
		err := postJoin(ctx, target, body)
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

func postJoin(ctx context.Context, base string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/cluster/join", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
