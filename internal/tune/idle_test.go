package tune

import (
	"runtime/metrics"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleReturn: memory goes back once per burst, on the first quiet
// interval after a busy one once at least worthFreeing bytes (and the
// live heap) were allocated, never while busy, not again while the server
// stays quiet, and never for a steady trickle of quiet intervals.
func TestIdleReturn(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name   string
		deltas []uint64 // allocated per interval
		live   uint64
		want   []bool
	}{
		{"BusyThenQuiet", []uint64{40 * mib, 40 * mib, 0, 0, 0}, 0, []bool{false, false, true, false, false}},
		{"SmallBurstNotWorthIt", []uint64{8 * mib, 0, 8 * mib, 0}, 0, []bool{false, false, false, false}},
		{"SmallBurstsAddUp", []uint64{20 * mib, 0, 20 * mib, 0}, 0, []bool{false, false, false, true}},
		{"SteadyTrickle", slices.Repeat([]uint64{quietAllocs - 1}, 64), 0, make([]bool, 64)},
		{"TrickleThenBurst", append(slices.Repeat([]uint64{quietAllocs - 1}, 40), quietAllocs, 0, 0), 0,
			append(make([]bool, 41), true, false)},
		{"KeepalivesAreQuiet", []uint64{64 * mib, quietAllocs - 1, quietAllocs - 1}, 0, []bool{false, true, false}},
		{"NeverQuiet", []uint64{64 * mib, quietAllocs, 2 * quietAllocs, 64 * mib}, 0, []bool{false, false, false, false}},
		{"EachBurst", []uint64{64 * mib, 0, 64 * mib, 0}, 0, []bool{false, true, false, true}},
		{"LargeStateNeedsLargerBurst", []uint64{64 * mib, 0, 64 * mib, 0}, 100 * mib, []bool{false, false, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r idleReturn
			total := uint64(1000)
			r.step(total, tc.live)
			for i, d := range tc.deltas {
				total += d
				if got := r.step(total, tc.live); got != tc.want[i] {
					t.Fatalf("interval %d (allocated %d): return = %v, want %v", i, d, got, tc.want[i])
				}
			}
		})
	}
}

// TestReturnWhenIdle_Runs: the loop reads the allocation counter each
// interval, frees once after a burst goes quiet, and ends on stop.
func TestReturnWhenIdle_Runs(t *testing.T) {
	var total, frees atomic.Uint64
	var reads atomic.Int64
	heap := func() (uint64, uint64) { v := total.Load(); reads.Add(1); return v, 0 }
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		returnWhenIdle(time.Millisecond, heap, func() { frees.Add(1) }, stop)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for reads.Load() == 0 { // the loop's starting point is read
		if time.Now().After(deadline) {
			t.Fatal("the loop never read the counter")
		}
		time.Sleep(time.Millisecond)
	}
	total.Add(worthFreeing) // a burst; the counter stays put after it
	for frees.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no return of memory within 10s of a quiet interval")
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	<-done
	if n := frees.Load(); n != 1 {
		t.Fatalf("%d returns after one burst, want 1", n)
	}
}

// TestHeapAllocs: the runtime serves both metrics the loop reads (a
// renamed or dropped one would silently turn the return off), and the
// total grows with allocation.
func TestHeapAllocs(t *testing.T) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	for _, m := range s {
		if m.Value.Kind() != metrics.KindUint64 {
			t.Fatalf("runtime/metrics %s: kind %v, want uint64", m.Name, m.Value.Kind())
		}
	}
	before, _ := heapAllocs()
	sink = make([]byte, 1<<20)
	if after, _ := heapAllocs(); after < before+1<<20 {
		t.Fatalf("allocated 1 MiB, total went %d -> %d", before, after)
	}
}

var sink []byte
