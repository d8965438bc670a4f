package tune

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleReturn: memory goes back once per burst, on the first quiet
// interval after at least worthFreeing bytes (and the live heap) of
// allocation, never while busy, and not again while the server stays
// quiet.
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
	heap := func() (uint64, uint64) { reads.Add(1); return total.Load(), 0 }
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		returnWhenIdle(time.Millisecond, heap, func() { frees.Add(1) }, stop)
		close(done)
	}()
	for reads.Load() == 0 { // the loop's starting point is read
		time.Sleep(time.Millisecond)
	}
	total.Add(worthFreeing) // a burst; the counter stays put after it
	deadline := time.Now().Add(10 * time.Second)
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
