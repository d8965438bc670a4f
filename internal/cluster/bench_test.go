package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// BenchmarkNode_Apply measures committed acquires through raft without
// HTTP: b.N acquires of distinct names from GOMAXPROCS*p goroutines.
func BenchmarkNode_Apply(b *testing.B) {
	for _, par := range []int{1, 32} {
		b.Run("clients="+strconv.Itoa(par), func(b *testing.B) {
			n := openNode(b, b.TempDir())
			defer n.Close()
			ctx := context.Background()
			n.Apply(ctx, state.BootstrapAdmin{ID: user, Login: "admin", Hash: state.HashToken("t")})
			var seq atomic.Int64
			b.SetParallelism(max(1, par/2))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					name := "bench/" + strconv.FormatInt(seq.Add(1), 10)
					r, err := n.Apply(ctx, state.Acquire{Name: name, LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
					if err != nil || r.Err != nil {
						b.Fatal(err, r.Err)
					}
				}
			})
		})
	}
}

// BenchmarkNode_Handoff measures the fair-queue chain through raft
// without HTTP: 16 users loop acquire (waiting in the queue) and release
// on one lock; each op is one grant. Every grant needs the previous
// holder's release committed first, so this is the ceiling the disk's
// commit latency sets for the contended HTTP benchmark.
func BenchmarkNode_Handoff(b *testing.B) {
	const workers = 16
	n := openNode(b, b.TempDir())
	defer n.Close()
	ctx := context.Background()
	users := make([]state.StaticUser, workers)
	for i := range users {
		users[i] = state.StaticUser{ID: uuid.New(), Login: fmt.Sprintf("u%d", i)}
	}
	if _, err := n.Apply(ctx, state.SyncStaticUsers{Users: users}); err != nil {
		b.Fatal(err)
	}
	var grants atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for _, u := range users {
		wg.Go(func() {
			for grants.Add(1) <= int64(b.N) {
				if err := handoffCycle(ctx, n, u.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
}

// handoffCycle acquires "contended" as holder, waiting its turn, then
// releases it.
func handoffCycle(ctx context.Context, n *Node, holder uuid.UUID) error {
	lease := uuid.New()
	granted, forget := n.ExpectGrant(lease)
	defer forget()
	r, err := n.Apply(ctx, state.Acquire{Name: "contended", LeaseID: lease, HolderID: holder,
		TTL: time.Minute, Wait: time.Minute})
	if err = errors.Join(err, r.Err); err != nil {
		return err
	}
	if r.Status == state.Queued {
		if _, ok := <-granted; !ok {
			return errors.New("waiter dropped")
		}
	}
	r, err = n.Apply(ctx, state.Release{Name: "contended", LeaseID: lease, HolderID: holder})
	return errors.Join(err, r.Err)
}
