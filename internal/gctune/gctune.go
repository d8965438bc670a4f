package gctune

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

// Tuner re-sets the collector's percent after every collection.
type Tuner struct {
	stopped atomic.Bool
	sample  []metrics.Sample
	set     func(int) int // debug.SetGCPercent; replaced in tests
}

// Start tunes the collector until Stop. The first target is set at once.
func Start() *Tuner { return start(debug.SetGCPercent) }

func start(set func(int) int) *Tuner {
	t := &Tuner{set: set}
	t.sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t.tune()
	t.arm()
	return t
}

// Stop ends tuning at the next collection; the last percent stays.
func (t *Tuner) Stop() { t.stopped.Store(true) }

// arm asks to be called after the next collection: the cleanup of an
// object nothing references runs once the collector has found it dead.
func (t *Tuner) arm() {
	runtime.AddCleanup(new([32]byte), func(t *Tuner) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

// tune sets the percent for the live heap the last collection measured.
// Setting it costs a lock of the heap, once per collection. Cleanups run
// one at a time, so t.sample needs no lock.
func (t *Tuner) tune() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		t.set(Percent(t.sample[0].Value.Uint64()))
	}
}
