package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

// Config configures a Node.
type Config struct {
	DataDir string
	// NodeID names this node in the Raft configuration. Empty means the
	// one stored in the data dir, generated on first start.
	NodeID string
	// Skew is the clock-skew margin added to every expiry before the lock
	// or session is free for others.
	Skew   time.Duration
	Logger *slog.Logger

	// RaftAddr is where this node listens for other nodes. Empty: a single
	// node on an in-memory transport, no port opened.
	RaftAddr string
	// RaftAdvertise is the address peers dial (NAT, containers); default
	// RaftAddr.
	RaftAdvertise string
	// HTTPAddr is the base URL clients reach this node at, e.g.
	// https://10.0.0.5:3000; the cluster status shows it.
	HTTPAddr string
	// ClusterKey or Certs gives a clustered node the certificate that
	// proves it to its peers; exactly one must be set.
	ClusterKey []byte
	Certs      *NodeCerts
	// Join: an empty data dir waits to be added to an existing cluster
	// instead of bootstrapping a new one.
	Join bool
	// Offline opens an existing data dir for a maintenance command while
	// no server runs on it (octostore token issue-admin). It refuses a dir
	// with no Raft state, and one whose configuration is not this node as
	// its only voter: a cluster member cannot commit alone, and campaigning
	// would raise the term its peers then have to catch up with.
	Offline bool
	// SnapshotThreshold is the number of log entries between snapshots
	// (0 means raft's default).
	SnapshotThreshold uint64
	// Observer gets log write, apply and snapshot timings; nil for none.
	Observer Observer

	// wrapLogStore lets tests put a slow or failing disk under raft.
	wrapLogStore func(raft.LogStore) raft.LogStore
	// trailingLogs, when not 0, replaces the 4096 entries a snapshot
	// leaves in the log: tests make a lagging follower need a snapshot.
	trailingLogs uint64
}

// Node is one member of an OctoStore Raft cluster.
type Node struct {
	cfg    Config
	id     string
	log    *slog.Logger
	raft   *raft.Raft
	fsm    *fsm
	store  *logStore
	lock   *os.File // the data dir's lock, held while open
	notify chan bool
	stream *StreamLayer // nil on the in-memory transport
	trans  raft.Transport

	ready       atomic.Bool // leader, and the leadership barrier has applied
	readyMu     sync.Mutex
	readyCh     chan struct{} // closed while ready
	leaderCtx   context.Context
	stopLeader  context.CancelFunc
	leaderTasks []func(ctx context.Context) // run while ready: expiry, webhooks

	leaderCheck leaderCheck // shared confirmations for linearizable reads

	queue         chan *proposal
	linger        time.Duration // patientLinger; tests change it
	slots         chan struct{}
	completions   chan inflightEntry
	completerDone chan struct{}
	shutdownCh    chan struct{}
	closed        chan struct{} // closed when Close has finished
	closeOnce     sync.Once
	wg            sync.WaitGroup
}

// Open starts a node on cfg.DataDir, bootstrapping a single-voter cluster
// when the directory holds no Raft state yet.
func Open(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if err := prepareDataDir(cfg.DataDir, cfg.Logger); err != nil {
		return nil, err
	}
	id, err := nodeID(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, id: id, log: cfg.Logger, fsm: newFSM(cfg.Logger, cfg.Observer),
		notify: make(chan bool, 16), readyCh: make(chan struct{}),
		queue: make(chan *proposal, queueSize), linger: patientLinger, slots: make(chan struct{}, maxInflight),
		completions: make(chan inflightEntry, maxInflight), completerDone: make(chan struct{}),
		shutdownCh: make(chan struct{}), closed: make(chan struct{}),
	}
	n.leaderCheck.verify = func() error { return n.raft.VerifyLeader().Error() }
	n.leaderTasks = []func(context.Context){n.runExpiry, n.registerSelf}
	if err := n.startRaft(); err != nil {
		return nil, err
	}
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.runProposer() }()
	go func() { defer n.wg.Done(); n.watchLeadership() }()
	go n.runCompleter()
	return n, nil
}

// startRaft locks the data dir, migrates a raft.db left by an older
// release, opens the WAL and starts raft on it.
func (n *Node) startRaft() error {
	lock, err := lockFile(filepath.Join(n.cfg.DataDir, lockName))
	if err != nil {
		if errors.Is(err, ErrDataDirInUse) {
			return fmt.Errorf("%w: %s", ErrDataDirInUse, n.cfg.DataDir)
		}
		return err
	}
	logger := newRaftLogger(n.log)
	if err := migrateBoltLog(n.cfg.DataDir, n.log, logger); err != nil {
		lock.Close()
		return err
	}
	store, err := openLogStore(filepath.Join(n.cfg.DataDir, walDir), n.log, logger)
	if err != nil {
		lock.Close()
		return err
	}
	n.store, n.lock = store, lock
	if err := n.startRaftOn(store, logger); err != nil {
		store.Close()
		lock.Close()
		return err
	}
	return nil
}

func (n *Node) startRaftOn(store *logStore, logger raftLogger) error {
	snaps, err := newSnapshotStore(n.cfg.DataDir, logger)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	var logs raft.LogStore = store
	if n.cfg.wrapLogStore != nil {
		logs = n.cfg.wrapLogStore(store)
	}
	logs = timedLogStore{logs, n.cfg.Observer}
	cache, err := raft.NewLogCache(1024, logs)
	if err != nil {
		return err
	}
	trans, err := n.newTransport(logger)
	if err != nil {
		return err
	}
	conf := n.raftConfig(logger)
	if err := n.prepareConfiguration(conf, cache, snaps, trans); err != nil {
		closeTransport(trans)
		return err
	}
	n.trans = trans
	if n.raft, err = raft.NewRaft(conf, n.fsm, cache, store, snaps, trans); err != nil {
		closeTransport(trans)
		return fmt.Errorf("start raft: %w", err)
	}
	return nil
}

// newTransport is in-memory for a single node (no port to open) and the
// authenticated TCP transport when the node has a Raft address.
func (n *Node) newTransport(logger raftLogger) (raft.Transport, error) {
	if !n.clustered() {
		_, trans := raft.NewInmemTransport(raft.ServerAddress("inmem:" + n.id))
		return trans, nil
	}
	trans, stream, err := NewTransport(TransportConfig{BindAddr: n.cfg.RaftAddr, Advertise: n.cfg.RaftAdvertise,
		NodeID: n.id, ClusterKey: n.cfg.ClusterKey, Certs: n.cfg.Certs, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("raft transport: %w", err)
	}
	stream.setJoinHandler(n.serveJoin)
	n.stream = stream
	return trans, nil
}

func (n *Node) clustered() bool { return n.cfg.RaftAddr != "" }

// closeTransport closes a network transport's listener and connections.
func closeTransport(t raft.Transport) {
	if c, ok := t.(raft.WithClose); ok {
		c.Close()
	}
}

func (n *Node) raftConfig(logger raftLogger) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(n.id)
	c.Logger = logger
	c.NotifyCh = n.notify
	// A single voter on the in-memory transport has no peer to wait for:
	// short timeouts only make it elect itself sooner after a restart.
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	if n.clustered() {
		// Peers on a network: long enough to ride out a GC pause or a busy
		// disk, short enough that a dead leader is replaced within about
		// two seconds.
		c.HeartbeatTimeout = 600 * time.Millisecond
		c.ElectionTimeout = 600 * time.Millisecond
		c.LeaderLeaseTimeout = 300 * time.Millisecond
	}
	c.CommitTimeout = 10 * time.Millisecond
	c.NoLegacyTelemetry = true
	// Snapshot often enough that the log stays short: a long log is what a
	// restart has to read and replay. Trailing
	// logs let a lagging follower catch up without a snapshot; entries are
	// batches, so fewer than raft's 10240 go a long way.
	c.SnapshotInterval = 10 * time.Second
	c.TrailingLogs = 4096
	if n.cfg.trailingLogs > 0 {
		c.TrailingLogs = n.cfg.trailingLogs
	}
	if n.cfg.SnapshotThreshold > 0 {
		c.SnapshotThreshold = n.cfg.SnapshotThreshold
	}
	return c
}

// prepareConfiguration bootstraps a new cluster in an empty data dir (unless
// this node is to be joined), and moves a lone node to a new Raft address:
// a single node started once on the in-memory transport and now given
// --raft-addr keeps its data.
func (n *Node) prepareConfiguration(conf *raft.Config, logs raft.LogStore, snaps raft.SnapshotStore, trans raft.Transport) error {
	exists, err := raft.HasExistingState(logs, n.store, snaps)
	if err != nil {
		return err
	}
	self := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: trans.LocalAddr()}}}
	if n.cfg.Offline {
		return n.checkSoleVoter(exists, conf, logs, snaps, trans)
	}
	if !exists {
		if n.cfg.Join {
			n.log.Info("waiting to be joined to a cluster", "node_id", n.id, "raft_addr", trans.LocalAddr())
			return nil
		}
		n.log.Info("bootstrapping a new cluster", "node_id", n.id, "raft_addr", trans.LocalAddr())
		return raft.BootstrapCluster(conf, logs, n.store, snaps, trans, self)
	}
	if !n.clustered() {
		return nil // the in-memory address never changes
	}
	probe := *conf // GetConfiguration marks the config it is given as not to start
	current, err := raft.GetConfiguration(&probe, discardFSM{}, logs, n.store, snaps, trans)
	if err != nil {
		return err
	}
	if s := current.Servers; len(s) == 1 && s[0].ID == conf.LocalID && s[0].Address != trans.LocalAddr() {
		n.log.Info("moving this node to a new raft address", "from", s[0].Address, "to", trans.LocalAddr())
		return raft.RecoverCluster(conf, newFSM(n.log, nopObserver{}), logs, n.store, snaps, trans, self)
	}
	return nil
}

// checkSoleVoter refuses to open an Offline node unless the data dir
// holds Raft state whose configuration is this node alone, as a voter.
func (n *Node) checkSoleVoter(exists bool, conf *raft.Config, logs raft.LogStore, snaps raft.SnapshotStore, trans raft.Transport) error {
	if !exists {
		return fmt.Errorf("%s holds no OctoStore data", n.cfg.DataDir)
	}
	probe := *conf // GetConfiguration marks the config it is given as not to start
	current, err := raft.GetConfiguration(&probe, discardFSM{}, logs, n.store, snaps, trans)
	if err != nil {
		return err
	}
	s := current.Servers
	if len(s) == 1 && s[0].ID == conf.LocalID && s[0].Suffrage == raft.Voter {
		return nil
	}
	ids := make([]string, len(s))
	for i, srv := range s {
		ids[i] = string(srv.ID)
	}
	return fmt.Errorf("%w: node %s is one of %d members (%s)", ErrNotSoleVoter, n.id, len(s), strings.Join(ids, ", "))
}

// Changed returns a channel closed at the next change of state: wait on
// it, then read, then take a new one. Nothing polls.
func (n *Node) Changed() <-chan struct{} { return n.fsm.changed() }

// ExpectGrant registers interest in a waiting acquire's lease before it
// is proposed: the channel gets the lock if a release or expiry hands it
// to that waiter, and is closed if the queues are emptied (a new leader
// drops every waiter) so the request can answer at once. Call the
// returned function when done waiting.
func (n *Node) ExpectGrant(lease uuid.UUID) (<-chan state.Lock, func()) {
	return n.fsm.expectGrant(lease)
}

// OnLeader runs task whenever this node is the ready leader, with a
// context canceled the moment leadership is lost (or the node closes).
// Leader-only work (webhook delivery) hangs off it.
func (n *Node) OnLeader(task func(ctx context.Context)) {
	n.readyMu.Lock()
	defer n.readyMu.Unlock()
	n.leaderTasks = append(n.leaderTasks, task)
	if n.ready.Load() {
		n.startTask(task)
	}
}

// startTask runs task under the current leadership's context; readyMu is
// held.
func (n *Node) startTask(task func(ctx context.Context)) {
	n.wg.Add(1)
	go func() { defer n.wg.Done(); task(n.leaderCtx) }()
}

// ID returns this node's Raft server ID.
func (n *Node) ID() string { return n.id }

// Close stops the node: pending proposals fail, raft shuts down and the
// log is closed. It is safe to call more than once.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		close(n.shutdownCh)
		n.wg.Wait()
		err = n.raft.Shutdown().Error()
		closeTransport(n.trans) // waits for heartbeats in progress (nodeTransport.Close)
		<-n.completerDone
		n.failQueued()
		if cerr := n.store.Close(); err == nil {
			err = cerr
		}
		n.lock.Close()
		close(n.closed)
	})
	return err
}

func (n *Node) failQueued() {
	for {
		select {
		case p := <-n.queue:
			finish([]*proposal{p}, nil, ErrShutdown)
		default:
			return
		}
	}
}

// Read runs fn against the state. Unless stale, it first confirms that
// this node is still the ready leader, which makes the read linearizable:
// every acknowledged write has been applied here, and no other leader can
// have acknowledged one since. now is the local clock clamped to the
// state's last time.
func (n *Node) Read(ctx context.Context, stale bool, fn func(s state.View, now int64)) error {
	if !stale {
		if !n.ready.Load() {
			return ErrNotLeader
		}
		if err := n.leaderCheck.confirm(ctx); err != nil {
			if ctx.Err() != nil {
				return err
			}
			return ErrNotLeader
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n.fsm.mu.RLock()
	defer n.fsm.mu.RUnlock()
	fn(n.fsm.st.View(), max(time.Now().UnixNano(), n.fsm.st.LastNow()))
	return nil
}
