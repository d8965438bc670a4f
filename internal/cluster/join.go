package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Joining runs on the node channel: the joining node dials a member with
// its certificate and sends one JSON request, and gets one JSON answer.
// The ID it joins as is the one its certificate names, so nothing in the
// request can speak for another node; a member that does not lead answers
// with the leader's Raft address, and the joiner asks there.

const (
	joinTimeout    = 15 * time.Second
	maxJoinMessage = 4 << 10
)

// joinRequest is what a joining node sends.
type joinRequest struct {
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

// joinAnswer is the member's verdict: no error means admitted.
type joinAnswer struct {
	Error  string `json:"error,omitempty"`
	Leader string `json:"leader,omitempty"` // the leader's Raft address, from a member that does not lead
}

// serveJoin answers one join request from the authenticated node peer.
func (n *Node) serveJoin(conn *tls.Conn, peer string) {
	conn.SetDeadline(time.Now().Add(joinTimeout))
	var req joinRequest
	if err := json.NewDecoder(io.LimitReader(conn, maxJoinMessage)).Decode(&req); err != nil {
		n.log.Warn("unreadable join request", "node_id", peer, "from", conn.RemoteAddr().String(), "err", err)
		return
	}
	ans := n.answerJoin(peer, conn.RemoteAddr().String(), req)
	if ans.Error != "" && ans.Leader == "" {
		n.log.Warn("join refused", "node_id", peer, "from", conn.RemoteAddr().String(), "err", ans.Error)
	}
	json.NewEncoder(conn).Encode(ans)
}

func (n *Node) answerJoin(peer, from string, req joinRequest) joinAnswer {
	if !n.ready.Load() {
		addr, _ := n.raft.LeaderWithID()
		return joinAnswer{Error: ErrNotLeader.Error(), Leader: string(addr)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	err := n.Join(ctx, JoinRequest{ID: peer, RaftAddr: req.RaftAddr, HTTPAddr: req.HTTPAddr, From: from})
	if err != nil {
		return joinAnswer{Error: err.Error()}
	}
	return joinAnswer{}
}

// AskToJoin asks the member at addr (its Raft address) to take this node
// in, and the leader it names if it does not lead. Asking again is
// harmless: a member at the same addresses is left as it is.
func (n *Node) AskToJoin(ctx context.Context, addr string) error {
	if n.stream == nil {
		return ErrNotClustered
	}
	ans, err := n.askJoin(ctx, addr)
	if err == nil && ans.Error != "" && ans.Leader != "" && ans.Leader != addr {
		ans, err = n.askJoin(ctx, ans.Leader)
	}
	if err != nil {
		return err
	}
	if ans.Error != "" {
		return errors.New(ans.Error)
	}
	return nil
}

func (n *Node) askJoin(ctx context.Context, addr string) (joinAnswer, error) {
	conn, err := n.stream.dial(ctx, addr, "", protoJoin)
	if err != nil {
		return joinAnswer{}, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(joinTimeout))
	req := joinRequest{RaftAddr: n.RaftAddr(), HTTPAddr: n.cfg.HTTPAddr}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return joinAnswer{}, fmt.Errorf("send join request to %s: %w", addr, err)
	}
	var ans joinAnswer
	if err := json.NewDecoder(io.LimitReader(conn, maxJoinMessage)).Decode(&ans); err != nil {
		return joinAnswer{}, fmt.Errorf("join answer from %s: %w", addr, err)
	}
	return ans, nil
}
