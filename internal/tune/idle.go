package tune

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The collector's headroom (gc.go) is memory the heap may fill with
// garbage before the next collection: needed while requests allocate,
// not once they stop. A lock server is often quiet between bursts while
// it holds many locks, and the runtime's own scavenger gives that memory
// back over minutes. So when a quiet interval follows real work, the
// server collects and returns what is free at once (debug.FreeOSMemory):
// one collection per burst, and the resident set loses the headroom. A
// forced collection costs in proportion to the live heap, so a burst must
// have allocated at least the live heap to earn one: frequent bursts on a
// large state then add at most one collection for every two the
// collector makes anyway (it collects every half live heap, gc.go).
const (
	idleEvery = 500 * time.Millisecond
	// quietAllocs: an interval that allocated less is quiet. Idle
	// keepalives and health checks allocate far less than this.
	quietAllocs = 1 << 20
	// worthFreeing: the least allocation since the last return that
	// makes a collection worth its cost (the live heap, if larger);
	// below it, the heap has not grown enough to matter.
	worthFreeing = 32 << 20
)

// idleReturn decides, from the bytes allocated in total, when to return
// memory: on a quiet interval after a busy one, once at least
// worthFreeing bytes, and at least the live heap, were allocated since
// the last return. The busy interval is what makes it a burst: a steady
// trickle of quiet intervals adds up to the threshold too, and would
// otherwise make every threshold's worth of light load pay a collection
// and fault the returned pages back in. It is pure so that its rules are
// tested without a clock.
type idleReturn struct {
	last, since uint64
	busy        bool // an interval since the last return allocated quietAllocs or more
	started     bool
}

// step takes the total allocated at the end of an interval and the live
// heap, and reports whether to return memory now.
func (r *idleReturn) step(total, live uint64) bool {
	if !r.started {
		r.started, r.last = true, total
		return false
	}
	delta := total - r.last
	r.last = total
	r.since += delta
	if delta >= quietAllocs {
		r.busy = true
		return false
	}
	if !r.busy || r.since < max(worthFreeing, live) {
		return false
	}
	r.since, r.busy = 0, false
	return true
}

// returnWhenIdle runs until stop is closed, returning memory (free) when
// idleReturn says so, with the total allocated and the live heap read by
// heap.
func returnWhenIdle(every time.Duration, heap func() (total, live uint64), free func(), stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	var r idleReturn
	r.step(heap())
	for {
		select {
		case <-t.C:
			if r.step(heap()) {
				free()
			}
		case <-stop:
			return
		}
	}
}

// heapAllocs reads the bytes the heap has allocated since the start and
// the live heap the last collection measured.
func heapAllocs() (total, live uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		total = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		live = s[1].Value.Uint64()
	}
	return total, live
}

// Idle returns memory to the system when the server goes quiet after
// work, until Stop.
type Idle struct{ stop chan struct{} }

// StartIdle starts returning memory when idle.
func StartIdle() *Idle {
	i := &Idle{stop: make(chan struct{})}
	go returnWhenIdle(idleEvery, heapAllocs, debug.FreeOSMemory, i.stop)
	return i
}

// Stop ends it.
func (i *Idle) Stop() { close(i.stop) }
