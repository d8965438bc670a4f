package tune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

const (
	// MinHeadroom is the least the heap may grow between collections.
	MinHeadroom = 12 << 20
	// basePercent is the growth, in percent of the live heap, of a heap
	// large enough that half of it exceeds MinHeadroom.
	basePercent = 50
	// maxPercent bounds the target of a nearly empty heap.
	maxPercent = 1000
)

// Percent is the GOGC value that lets a heap of live bytes grow by half
// its size or by MinHeadroom, whichever is more.
func Percent(live uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := uint64(MinHeadroom) * 100 / live
	switch {
	case p < basePercent:
		return basePercent
	case p > maxPercent:
		return maxPercent
	}
	return int(p)
}

// GC re-sets the collector's percent after every collection.
type GC struct {
	stopped atomic.Bool
	sample  []metrics.Sample
	set     func(int) int // debug.SetGCPercent; replaced in tests
}

// StartGC tunes the collector until Stop. The first target is set at once.
func StartGC() *GC { return startGC(debug.SetGCPercent) }

func startGC(set func(int) int) *GC {
	t := &GC{set: set}
	t.sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t.tune()
	t.arm()
	return t
}

// Stop ends tuning at the next collection; the last percent stays.
func (t *GC) Stop() { t.stopped.Store(true) }

// arm asks to be called after the next collection: the cleanup of an
// object nothing references runs once the collector has found it dead.
func (t *GC) arm() {
	runtime.AddCleanup(new([32]byte), func(t *GC) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

// tune sets the percent for the live heap the last collection measured.
// Setting it costs a lock of the heap, once per collection. Only one
// cleanup is armed at a time (each run arms the next), so t.sample is
// never used by two at once.
func (t *GC) tune() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		t.set(Percent(t.sample[0].Value.Uint64()))
	}
}
