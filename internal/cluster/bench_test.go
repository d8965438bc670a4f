package cluster

import (
	"context"
	"strconv"
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
			n, err := Open(Config{DataDir: b.TempDir(), Skew: time.Second, Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer n.Close()
			ctx := context.Background()
			if err := n.WaitReady(ctx); err != nil {
				b.Fatal(err)
			}
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
