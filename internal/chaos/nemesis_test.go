package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// fault is one entry of the nemesis's schedule, for the report.
type fault struct {
	Kind string
	Node string
	At   time.Duration
	For  time.Duration
}

var faultKinds = []string{"kill", "pause", "partition", "delay", "kill-leader"}

// nemesis injects one fault at a time until ctx ends: kill -9 and
// restart, SIGSTOP/SIGCONT, a node cut off from its peers, delayed Raft
// traffic, or the leader killed and restarted at once.
func (cl *chaosCluster) nemesis(ctx context.Context, rng *rand.Rand) []fault {
	start := time.Now()
	var faults []fault
	for ctx.Err() == nil {
		if !sleepCtx(ctx, jittered(rng, time.Second, 2*time.Second)) {
			break
		}
		f := fault{Kind: faultKinds[rng.IntN(len(faultKinds))], At: time.Since(start), For: jittered(rng, 500*time.Millisecond, 2*time.Second)}
		f.Node = cl.inject(rng, f)
		faults = append(faults, f)
	}
	return faults
}

// inject applies f, waits its duration and undoes it; it returns the node
// it hit.
func (cl *chaosCluster) inject(rng *rand.Rand, f fault) string {
	n := cl.nodes[rng.IntN(len(cl.nodes))]
	switch f.Kind {
	case "kill":
		cl.kill(n)
		time.Sleep(f.For)
		cl.start(n)
	case "pause":
		cl.pause(n, true)
		time.Sleep(f.For)
		cl.pause(n, false)
	case "partition":
		cl.isolate(n, true)
		time.Sleep(f.For)
		cl.isolate(n, false)
	case "delay":
		cl.delayAll(time.Duration(20+rng.IntN(80)) * time.Millisecond)
		time.Sleep(f.For)
		cl.delayAll(0)
		return "all"
	case "kill-leader":
		if l := cl.leaderNode(); l != nil {
			n = l
		}
		cl.kill(n)
		cl.start(n)
	}
	return n.id
}

func jittered(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

func summarize(faults []fault) string {
	counts := map[string]int{}
	for _, f := range faults {
		counts[f.Kind]++
	}
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}
