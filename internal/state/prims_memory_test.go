package state

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestPrims_BytesPerHeldLock keeps a held mutex as cheap as before the
// primitives (measured at 150 bytes without a session, 185 with one, on
// main and on this code alike): 100,000 held locks must stay well inside
// the server's 60 MB. The bound is loose so that the allocator's moods do
// not make it flaky; the log says the number.
func TestPrims_BytesPerHeldLock(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 20,000 locks")
	}
	for _, withSession := range []bool{false, true} {
		s := newState(t)
		sid := uuid.New()
		if withSession {
			mustApply(t, s, at(0), CreateSession{ID: sid, UserID: alice, TTL: 300 * time.Second})
		}
		const n = 20_000
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < n; i += 1000 {
			cmds := make([]Command, 0, 1000)
			for j := i; j < i+1000; j++ {
				c := acquire(fmt.Sprintf("svc/lock-%06d", j), alice, time.Hour)
				if withSession {
					c.SessionID = sid
				}
				cmds = append(cmds, c)
			}
			s.Apply(Batch{Now: at(time.Second), Skew: skew, Commands: cmds})
		}
		s.outbox = outbox{nextSeq: s.outbox.nextSeq} // events are bounded apart
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
		t.Logf("session=%v: %.1f bytes per held lock", withSession, per)
		if per > 300 {
			t.Errorf("session=%v: %.1f bytes per held lock, want at most 300", withSession, per)
		}
		runtime.KeepAlive(s)
	}
}
