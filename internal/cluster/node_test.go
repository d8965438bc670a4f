package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/state"
)

var user = uuid.MustParse("00000000-0000-4000-8000-000000000001")

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openNode(t testing.TB, dir string) *Node {
	t.Helper()
	return openNodeWith(t, Config{DataDir: dir})
}

// openNodeWith opens a single node with cfg (a short skew margin and a
// quiet logger unless set) and waits until it leads.
func openNodeWith(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.Skew == 0 {
		cfg.Skew = 10 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		n.Close()
		t.Fatalf("node never became ready: %v", err)
	}
	return n
}

func mustApply(t *testing.T, n *Node, cmd state.Command) state.Result {
	t.Helper()
	r, err := n.Apply(context.Background(), cmd)
	if err != nil {
		t.Fatalf("%T: %v", cmd, err)
	}
	if r.Err != nil {
		t.Fatalf("%T: %v", cmd, r.Err)
	}
	return r
}

func addUser(t *testing.T, n *Node) {
	mustApply(t, n, state.BootstrapAdmin{ID: user, Login: "admin", Hash: state.HashToken("t")})
}

func getLock(t *testing.T, n *Node, name string) (l state.Lock, held bool) {
	t.Helper()
	err := n.Read(context.Background(), false, func(s state.View, now int64) { l, held = s.GetLock(name, now) })
	if err != nil {
		t.Fatal(err)
	}
	return l, held
}

func TestNode_SurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	addUser(t, n)
	want := mustApply(t, n, state.Acquire{Name: "a", LeaseID: uuid.New(), HolderID: user, TTL: time.Hour}).Lock
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n = openNode(t, dir)
	defer n.Close()
	got, held := getLock(t, n, "a")
	if !held || got != want {
		t.Fatalf("after restart: %+v held=%v, want %+v", got, held, want)
	}
	next := mustApply(t, n, state.Acquire{Name: "b", LeaseID: uuid.New(), HolderID: user, TTL: time.Hour}).Lock
	if next.Token <= want.Token {
		t.Fatalf("token %d after restart, had %d", next.Token, want.Token)
	}
}

func TestNode_SnapshotRestore(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	addUser(t, n)
	var last state.Lock
	for i := range 50 {
		last = mustApply(t, n, state.Acquire{Name: "l/" + string(rune('a'+i%26)) + uuid.NewString()[:8], LeaseID: uuid.New(), HolderID: user, TTL: time.Hour}).Lock
	}
	if err := n.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	mustApply(t, n, state.Acquire{Name: "after-snapshot", LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
	n.Close()
	n = openNode(t, dir)
	defer n.Close()
	var count int
	n.Read(context.Background(), false, func(s state.View, now int64) { count = s.LockCount() })
	if count != 51 {
		t.Fatalf("%d locks after snapshot+log replay, want 51", count)
	}
	if got, _ := getLock(t, n, last.Name); got != last {
		t.Fatalf("got %+v want %+v", got, last)
	}
}

func TestNode_ExpiresOnTime(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.Close()
	addUser(t, n)
	l := mustApply(t, n, state.Acquire{Name: "short", LeaseID: uuid.New(), HolderID: user, TTL: time.Second}).Lock
	waitNoLocks(t, n, 5*time.Second)
	if late := time.Since(time.Unix(0, l.FreeAt)); late < 0 || late > time.Second {
		t.Fatalf("removed %v after FreeAt", late)
	}
}

// waitNoLocks polls until the expiry loop has removed every lock.
func waitNoLocks(t *testing.T, n *Node, within time.Duration) {
	t.Helper()
	poll.Until(t, within, "every lock expired away", func() bool {
		var stored int
		n.Read(context.Background(), true, func(s state.View, now int64) { stored = s.LockCount() })
		return stored == 0
	})
}

func TestNode_ConcurrentApplies(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.Close()
	addUser(t, n)
	const workers, each = 32, 50
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			for i := range each {
				name := "w" + string(rune('a'+w%26)) + "/" + uuid.NewString()[:8] + string(rune('a'+i%26))
				r, err := n.Apply(context.Background(), state.Acquire{Name: name, LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
				if err == nil && r.Err != nil {
					err = r.Err
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var count int
	var next uint64
	n.Read(context.Background(), false, func(s state.View, now int64) { count, next = s.LockCount(), s.NextToken() })
	if count != workers*each || next != workers*each+1 {
		t.Fatalf("count %d next token %d", count, next)
	}
}

func TestNode_ClosedNodeRefuses(t *testing.T) {
	n := openNode(t, t.TempDir())
	n.Close()
	if _, err := n.Apply(context.Background(), state.ExpireDue{Limit: 1}); !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrShutdown) {
		t.Fatalf("apply after close: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestNode_DataDirLocked(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, dir)
	defer n.Close()
	if _, err := Open(Config{DataDir: dir, Logger: n.log}); err == nil {
		t.Fatal("second node opened the same data dir")
	}
}

// TestNode_InvalidCommandFailsAlone: a command the codec would refuse is
// rejected before it can join (and poison) a batch with valid ones.
func TestNode_InvalidCommandFailsAlone(t *testing.T) {
	n := openNode(t, t.TempDir())
	defer n.Close()
	addUser(t, n)
	bad := state.Acquire{Name: "x", LeaseID: uuid.New(), HolderID: user, TTL: -time.Second}
	if _, err := n.Apply(context.Background(), bad); !errors.Is(err, state.ErrInvalidCommand) {
		t.Fatalf("invalid command: %v", err)
	}
	mustApply(t, n, state.Acquire{Name: "x", LeaseID: uuid.New(), HolderID: user, TTL: time.Second})
}
