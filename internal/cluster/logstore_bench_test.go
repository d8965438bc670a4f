package cluster

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"go.etcd.io/bbolt"
)

// BenchmarkLogStore_Append appends and commits one entry at a time, as a
// single client does, through the old bolt log store and through the WAL,
// fsync on, in a temp dir on this machine's disk. It reports appends/s and
// the median append latency: the cost a lone client pays per Raft entry.
//
//	go test -run '^$' -bench LogStore_Append -benchtime 2000x ./internal/cluster
func BenchmarkLogStore_Append(b *testing.B) {
	b.Run("raftboltdb", func(b *testing.B) {
		s, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(b.TempDir(), "raft.db"),
			BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchAppend(b, s)
	})
	b.Run("raft-wal", func(b *testing.B) {
		w, err := wal.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		benchAppend(b, w)
	})
}

func benchAppend(b *testing.B, s raft.LogStore) {
	data := make([]byte, 200) // about one encoded acquire
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := s.StoreLog(&raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: start}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
