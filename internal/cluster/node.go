package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

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
	// SnapshotThreshold is the number of log entries between snapshots
	// (0 means raft's default).
	SnapshotThreshold uint64

	// wrapLogStore lets tests put a slow or failing disk under raft.
	wrapLogStore func(raft.LogStore) raft.LogStore
}

// Node is one member of an OctoStore Raft cluster.
type Node struct {
	cfg    Config
	id     string
	log    *slog.Logger
	raft   *raft.Raft
	fsm    *fsm
	store  *raftboltdb.BoltStore
	notify chan bool

	ready       atomic.Bool // leader, and the leadership barrier has applied
	readyMu     sync.Mutex
	readyCh     chan struct{} // closed while ready
	leaderCtx   context.Context
	stopLeader  context.CancelFunc
	leaderTasks []func(ctx context.Context) // run while ready: expiry, webhooks

	queue         chan *proposal
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
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	id, err := nodeID(cfg)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg: cfg, id: id, log: cfg.Logger, fsm: newFSM(cfg.Logger),
		notify: make(chan bool, 16), readyCh: make(chan struct{}),
		queue: make(chan *proposal, queueSize), slots: make(chan struct{}, maxInflight),
		completions: make(chan inflightEntry, maxInflight), completerDone: make(chan struct{}),
		shutdownCh: make(chan struct{}), closed: make(chan struct{}),
	}
	n.leaderTasks = []func(context.Context){n.runExpiry}
	if err := n.startRaft(); err != nil {
		return nil, err
	}
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.runProposer() }()
	go func() { defer n.wg.Done(); n.watchLeadership() }()
	go n.runCompleter()
	return n, nil
}

func (n *Node) startRaft() error {
	store, err := raftboltdb.New(raftboltdb.Options{
		Path: filepath.Join(n.cfg.DataDir, "raft.db"),
		// The hashmap freelist stays O(1) per commit however many pages the
		// log compaction frees; the array freelist re-sorts them every time.
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return fmt.Errorf("data dir %s is in use by another process", n.cfg.DataDir)
		}
		return fmt.Errorf("open raft log: %w", err)
	}
	n.store = store
	logger := newRaftLogger(n.log)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(n.cfg.DataDir, 2, logger)
	if err != nil {
		store.Close()
		return fmt.Errorf("open snapshot store: %w", err)
	}
	var logs raft.LogStore = store
	if n.cfg.wrapLogStore != nil {
		logs = n.cfg.wrapLogStore(store)
	}
	cache, err := raft.NewLogCache(1024, logs)
	if err != nil {
		store.Close()
		return err
	}
	_, trans := raft.NewInmemTransport(raft.ServerAddress("inmem:" + n.id))
	conf := n.raftConfig(logger)
	if err := n.bootstrapIfNew(conf, cache, snaps, trans); err != nil {
		store.Close()
		return err
	}
	n.raft, err = raft.NewRaft(conf, n.fsm, cache, store, snaps, trans)
	if err != nil {
		store.Close()
		return fmt.Errorf("start raft: %w", err)
	}
	return nil
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
	c.CommitTimeout = 10 * time.Millisecond
	c.NoLegacyTelemetry = true
	// Snapshot often enough that raft.db stays small: its pages are mapped
	// into memory, and a long log is what a restart has to replay. Trailing
	// logs let a lagging follower catch up without a snapshot; entries are
	// batches, so fewer than raft's 10240 go a long way.
	c.SnapshotInterval = 10 * time.Second
	c.TrailingLogs = 4096
	if n.cfg.SnapshotThreshold > 0 {
		c.SnapshotThreshold = n.cfg.SnapshotThreshold
	}
	return c
}

func (n *Node) bootstrapIfNew(conf *raft.Config, logs raft.LogStore, snaps raft.SnapshotStore, trans raft.Transport) error {
	exists, err := raft.HasExistingState(logs, n.store, snaps)
	if err != nil || exists {
		return err
	}
	n.log.Info("bootstrapping a new single-node cluster", "node_id", n.id)
	servers := raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: trans.LocalAddr()}}}
	return raft.BootstrapCluster(conf, logs, n.store, snaps, trans, servers)
}

// Changed returns a channel closed at the next change of state: wait on
// it, then read, then take a new one. Nothing polls.
func (n *Node) Changed() <-chan struct{} { return n.fsm.changed() }

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
		<-n.completerDone
		n.failQueued()
		if cerr := n.store.Close(); err == nil {
			err = cerr
		}
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
func (n *Node) Read(ctx context.Context, stale bool, fn func(s *state.State, now int64)) error {
	if !stale {
		if !n.ready.Load() {
			return ErrNotLeader
		}
		if err := n.raft.VerifyLeader().Error(); err != nil {
			return ErrNotLeader
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n.fsm.mu.RLock()
	defer n.fsm.mu.RUnlock()
	fn(n.fsm.st, max(time.Now().UnixNano(), n.fsm.st.LastNow()))
	return nil
}
