package cluster

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

// slowDisk delays every log write, as a saturated or failing disk does.
type slowDisk struct {
	raft.LogStore
	delay time.Duration
}

func (s slowDisk) StoreLogs(logs []*raft.Log) error {
	time.Sleep(s.delay)
	return s.LogStore.StoreLogs(logs)
}

func (s slowDisk) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// TestNode_SlowDisk: with 40 ms per log write, concurrent acquires are
// still each answered once with distinct increasing tokens (group commit
// absorbs the latency), and expiry still frees a lock on time.
func TestNode_SlowDisk(t *testing.T) {
	n := openNodeWith(t, Config{DataDir: t.TempDir(),
		wrapLogStore: func(s raft.LogStore) raft.LogStore { return slowDisk{s, 40 * time.Millisecond} }})
	defer n.Close()
	addUser(t, n)
	const clients = 50
	tokens := make(chan uint64, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mustApply(t, n, state.Acquire{Name: "slow/" + uuid.NewString(), LeaseID: uuid.New(), HolderID: user, TTL: time.Duration(1+i%2) * time.Second})
			tokens <- r.Lock.Token
		}()
	}
	wg.Wait()
	close(tokens)
	seen := map[uint64]bool{}
	for tok := range tokens {
		if seen[tok] {
			t.Fatalf("token %d handed out twice", tok)
		}
		seen[tok] = true
	}
	t.Logf("%d acquires through a 40 ms disk in %v", clients, time.Since(start))
	waitNoLocks(t, n, 5*time.Second)
}
