package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/state"
)

// TestWAL_FollowerCatchesUpFromSnapshot: a follower that was down while
// the leader compacted its log past the follower's last entry gets a
// snapshot, then the entries after it. Its WAL still holds its old
// entries, and refuses the gap after them; raft empties it first only
// because the store says it is monotonic (the failure raft-wal users
// knew as "a follower disconnected for a while cannot catch up").
func TestWAL_FollowerCatchesUpFromSnapshot(t *testing.T) {
	// Small segments: compaction deletes whole segment files. Within one
	// segment raft-wal still returns entries below its first index, and
	// the leader would send those instead of a snapshot.
	defer func(s int) { walSegmentSize = s }(walSegmentSize)
	walSegmentSize = 4096
	key := testKey(t)
	cfg := func(dir string, join bool) Config {
		return Config{DataDir: dir, RaftAddr: "127.0.0.1:0", ClusterKey: key, HTTPAddr: "http://127.0.0.1:1",
			Join: join, Skew: 10 * time.Millisecond, Logger: quietLogger(), SnapshotThreshold: 32, trailingLogs: 8}
	}
	leader := openNodeWith(t, cfg(t.TempDir(), false))
	defer leader.Close()
	addUser(t, leader)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var followers []*Node
	var dirs []string
	for range 2 {
		dir := t.TempDir()
		n, err := Open(cfg(dir, true))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { n.Close() }()
		if err := n.AskToJoin(ctx, leader.RaftAddr()); err != nil {
			t.Fatal(err)
		}
		followers, dirs = append(followers, n), append(dirs, dir)
	}
	acquire := func(name string) {
		mustApply(t, leader, state.Acquire{Name: name, LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
	}
	acquire("before/down")
	lagging := followers[1]
	poll.Until(t, 10*time.Second, "the follower to have the first lock", func() bool { return hasLock(lagging, "before/down") })
	addr := lagging.RaftAddr()
	lagging.Close()

	for i := range 100 { // several snapshots on the leader: its log now starts far past the follower's
		acquire(fmt.Sprintf("while/down/%03d", i))
	}
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c := cfg(dirs[1], false)
	c.RaftAddr = addr // its address in the configuration
	back, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	acquire("after/return")
	poll.Until(t, 20*time.Second, "the returning follower to catch up", func() bool { return hasLock(back, "after/return") })
	if s := back.raft.Stats()["last_snapshot_index"]; s == "0" {
		t.Fatal("the follower caught up without a snapshot: the test did not test that")
	}
	if !hasLock(back, "while/down/050") {
		t.Fatal("the snapshot's locks are missing on the follower")
	}
}

// hasLock reads n's own state, stale: a follower's view.
func hasLock(n *Node, name string) bool {
	var ok bool
	n.Read(context.Background(), true, func(v state.View, now int64) { _, ok = v.GetLock(name, now) })
	return ok
}
