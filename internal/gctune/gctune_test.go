package gctune

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		live uint64
		want int
	}{
		{"Empty", 0, maxPercent},
		{"Tiny", MinHeadroom / 100, maxPercent},
		{"SmallState", MinHeadroom / 4, 400},
		{"Between", MinHeadroom * 5 / 4, 80},
		{"FloorMeetsHalf", MinHeadroom * 2, basePercent},
		{"LargeState", MinHeadroom * 10, basePercent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percent(tc.live); got != tc.want {
				t.Fatalf("Percent(%d) = %d, want %d", tc.live, got, tc.want)
			}
		})
	}
}

// TestTuner_FollowsCollections: Start sets a percent at once, and every
// collection after it tunes again, until Stop.
func TestTuner_FollowsCollections(t *testing.T) {
	var calls atomic.Int32
	tu := start(func(int) int { calls.Add(1); return 0 })
	defer tu.Stop()
	if calls.Load() != 1 {
		t.Fatalf("Start set the percent %d times, want 1", calls.Load())
	}
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no tune within 10s of collections")
		}
		runtime.GC()
	}
}
