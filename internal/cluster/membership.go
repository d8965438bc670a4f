package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

// Membership errors.
var (
	// ErrNotClustered: this node runs on the in-memory transport and has
	// no address another node could reach.
	ErrNotClustered = errors.New("this node was started without --raft-addr and cannot take members")
	// ErrJoinRefused: the join request was malformed.
	ErrJoinRefused = errors.New("join refused")
	// ErrAddressTaken: a joining node gave an address another member holds.
	ErrAddressTaken = errors.New("address held by another member")
	// ErrUnknownMember: no such node in the configuration.
	ErrUnknownMember = errors.New("no such cluster member")
)

// JoinRequest asks the leader to take a node in as a voter. ID is the
// node ID its certificate proved on the node channel, never a claim.
type JoinRequest struct {
	ID       string
	RaftAddr string
	HTTPAddr string
	// From is the address the request came from, for the log.
	From string
}

const membershipTimeout = 10 * time.Second

// Join adds the node as a voter, or moves it to the addresses it now
// gives; a node already in the configuration at the same address is left
// as it is. Only the node itself can ask this (the node channel proved its
// ID), so a member's addresses change only when that member says so. The
// leader dials nothing here: raft later dials RaftAddr and accepts only a
// certificate naming req.ID there.
func (n *Node) Join(ctx context.Context, req JoinRequest) error {
	if err := n.leaderForMembership(); err != nil {
		return err
	}
	if err := validateJoin(req); err != nil {
		return err
	}
	if err := n.addVoter(raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr)); err != nil {
		return err
	}
	n.log.Info("node joined", "node_id", req.ID, "raft_addr", req.RaftAddr, "http_addr", req.HTTPAddr,
		"requested_by", "node "+req.ID, "from", req.From)
	return n.setNode(ctx, req.ID, req.HTTPAddr)
}

func validateJoin(req JoinRequest) error {
	if !ValidNodeID(req.ID) {
		return fmt.Errorf("%w: invalid node ID", ErrJoinRefused)
	}
	host, port, err := net.SplitHostPort(req.RaftAddr)
	if err != nil || host == "" || port == "" || len(req.RaftAddr) > state.MaxNodeAddrLen {
		return fmt.Errorf("%w: raft_addr must be host:port", ErrJoinRefused)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%w: raft_addr %s is a wildcard", ErrJoinRefused, req.RaftAddr)
	}
	u, err := url.Parse(req.HTTPAddr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(req.HTTPAddr) > state.MaxNodeAddrLen {
		return fmt.Errorf("%w: http_addr must be an http:// or https:// URL", ErrJoinRefused)
	}
	return nil
}

func (n *Node) leaderForMembership() error {
	if !n.ready.Load() {
		return ErrNotLeader
	}
	if n.stream == nil {
		return ErrNotClustered
	}
	return nil
}

// addVoter is idempotent: same ID and address is a no-op. An address that
// another member holds is refused: one node must not be able to push
// another out of the cluster by claiming its address. A replaced machine
// that comes back under a new ID needs its old entry removed first, by an
// administrator.
func (n *Node) addVoter(id raft.ServerID, addr raft.ServerAddress) error {
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return err
	}
	for _, s := range cf.Configuration().Servers {
		if s.ID == id && s.Address == addr {
			return nil
		}
		if s.Address == addr {
			return fmt.Errorf("%w: member %s is registered at %s; if that machine was replaced, remove it first (octostore cluster remove %s)",
				ErrAddressTaken, s.ID, addr, s.ID)
		}
	}
	return proposeError(n.raft.AddVoter(id, addr, 0, membershipTimeout).Error())
}

// Remove takes a member out of the cluster (a dead machine, say); by
// says who asked, for the log.
func (n *Node) Remove(ctx context.Context, id, by string) error {
	if err := n.leaderForMembership(); err != nil {
		return err
	}
	if _, ok := n.member(raft.ServerID(id)); !ok {
		return ErrUnknownMember
	}
	if err := proposeError(n.raft.RemoveServer(raft.ServerID(id), 0, membershipTimeout).Error()); err != nil {
		return err
	}
	n.log.Info("node removed", "node_id", id, "requested_by", by)
	if id == n.id {
		return nil // the leader removed itself and steps down; the new leader tidies up
	}
	_, err := state.Outcome(n.Apply(ctx, state.RemoveNode{ID: id}))
	return err
}

func (n *Node) member(id raft.ServerID) (raft.Server, bool) {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return raft.Server{}, false
	}
	for _, s := range cf.Configuration().Servers {
		if s.ID == id {
			return s, true
		}
	}
	return raft.Server{}, false
}

// setNode records a member's HTTP address unless it is already current.
func (n *Node) setNode(ctx context.Context, id, httpAddr string) error {
	var cur string
	n.Read(ctx, true, func(s state.View, _ int64) { cur, _ = s.NodeHTTP(id) })
	if cur == httpAddr {
		return nil
	}
	_, err := state.Outcome(n.Apply(ctx, state.SetNode{ID: id, HTTPAddr: httpAddr}))
	return err
}

// registerSelf is a leader task: the leader records its own HTTP address,
// which followers need to forward to it.
func (n *Node) registerSelf(ctx context.Context) {
	if n.cfg.HTTPAddr == "" {
		return
	}
	if err := n.setNode(ctx, n.id, n.cfg.HTTPAddr); err != nil && ctx.Err() == nil {
		n.log.Warn("recording this node's HTTP address", "err", err)
	}
}

// Leader returns the node ID of the leader this node knows of.
func (n *Node) Leader() (string, bool) {
	_, id := n.raft.LeaderWithID()
	return string(id), id != ""
}

// DialForward opens a connection on the node channel to member id for
// forwarding client requests over HTTP; the peer must prove it is id.
func (n *Node) DialForward(ctx context.Context, id string) (net.Conn, error) {
	if n.stream == nil {
		return nil, ErrNotClustered
	}
	m, ok := n.member(raft.ServerID(id))
	if !ok {
		return nil, ErrUnknownMember
	}
	return n.stream.dial(ctx, string(m.Address), id, protoHTTP)
}

// ForwardListener yields the connections other nodes forward client
// requests on, or nil on the in-memory transport.
func (n *Node) ForwardListener() net.Listener {
	if n.stream == nil {
		return nil
	}
	return n.stream.HTTPListener()
}

// SoleVoter reports whether this node is the only voter of its
// configuration, and so will lead by itself.
func (n *Node) SoleVoter() bool {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return false
	}
	s := cf.Configuration().Servers
	return len(s) == 1 && string(s[0].ID) == n.id && s[0].Suffrage == raft.Voter
}

// Member is one node as the cluster status shows it.
type Member struct {
	ID, RaftAddr, HTTPAddr string
	Role                   string // leader, follower, candidate or unknown
	Voter                  bool
}

// Status is this node's view of the cluster.
type Status struct {
	Leader                string
	Term, Commit, Applied uint64
	Members               []Member
	Self                  string
}

// Status reports the cluster as this node sees it; any node can answer.
func (n *Node) Status() Status {
	_, leader := n.raft.LeaderWithID()
	st := Status{Leader: string(leader), Term: n.raft.CurrentTerm(), Commit: n.raft.CommitIndex(),
		Applied: n.raft.AppliedIndex(), Self: n.id}
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return st // no member list while the configuration cannot be read
	}
	n.Read(context.Background(), true, func(s state.View, _ int64) {
		for _, srv := range cf.Configuration().Servers {
			m := Member{ID: string(srv.ID), RaftAddr: string(srv.Address), Voter: srv.Suffrage == raft.Voter,
				Role: n.roleOf(srv.ID, leader)}
			m.HTTPAddr, _ = s.NodeHTTP(m.ID)
			st.Members = append(st.Members, m)
		}
	})
	return st
}

func (n *Node) roleOf(id, leader raft.ServerID) string {
	switch {
	case string(id) == n.id:
		if r := roleName(n.raft.State()); r != "shutdown" {
			return r
		}
		return "unknown"
	case id == leader:
		return "leader"
	case leader != "":
		return "follower"
	}
	return "unknown"
}

// WriteSnapshot writes a consistent snapshot of the state, taken on the
// ready leader after confirming leadership (linearizable), in the format
// snapshot restore reads.
func (n *Node) WriteSnapshot(ctx context.Context, w io.Writer) error {
	if err := n.Read(ctx, false, func(state.View, int64) {}); err != nil {
		return err
	}
	sn, _ := n.fsm.snapshot()
	_, err := sn.WriteTo(w)
	return err
}

// Digest is a SHA-256 of this node's state and the Raft index it
// reflects: two nodes at the same index must have the same digest.
func (n *Node) Digest() (index uint64, digest string) {
	sn, index := n.fsm.snapshot()
	h := sha256.New()
	sn.WriteTo(h)
	return index, hex.EncodeToString(h.Sum(nil))
}

// RestoreBackup replaces the whole state with a snapshot written by
// WriteSnapshot, checked first. It is for seeding a fresh cluster from a
// backup, on its leader; fencing tokens continue after the backup's.
func (n *Node) RestoreBackup(data []byte) error {
	if _, err := state.Restore(bytes.NewReader(data)); err != nil {
		return err
	}
	if !n.ready.Load() {
		return ErrNotLeader
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: int64(len(data))}
	return n.raft.Restore(meta, bytes.NewReader(data), time.Minute)
}

// RaftAddr is the address other nodes reach this one's Raft at; empty on
// the in-memory transport.
func (n *Node) RaftAddr() string {
	if n.stream == nil {
		return ""
	}
	return n.stream.Addr().String()
}
