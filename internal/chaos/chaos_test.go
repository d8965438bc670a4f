package chaos

import (
	"context"
	"flag"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/proctest"
)

var (
	flagDuration = flag.Duration("chaos.duration", 0, "how long TestChaos runs faults (default 30s, or OCTOSTORE_CHAOS_DURATION)")
	flagSeed     = flag.Uint64("chaos.seed", 0, "the run's seed (default random, or OCTOSTORE_CHAOS_SEED)")
	binary       string
)

func TestMain(m *testing.M) { os.Exit(proctest.Main(m, &binary)) }

// settings returns the run's length and seed: flags first, then the
// environment, then a short run with a fresh seed.
func settings(t *testing.T) (time.Duration, uint64) {
	d := *flagDuration
	if d == 0 {
		if v, err := time.ParseDuration(os.Getenv("OCTOSTORE_CHAOS_DURATION")); err == nil {
			d = v
		} else {
			d = 30 * time.Second
		}
	}
	seed := *flagSeed
	if seed == 0 {
		if v, err := strconv.ParseUint(os.Getenv("OCTOSTORE_CHAOS_SEED"), 10, 64); err == nil {
			seed = v
		} else {
			seed = rand.Uint64()
		}
	}
	return d, seed
}

// roundLength bounds one checked history: long runs are a series of
// rounds on the same cluster, each with its own lock names and sessions,
// so porcupine's work stays bounded however long the run.
const roundLength = 30 * time.Second

// TestChaos runs concurrent clients against a 3-node cluster of real
// processes while a nemesis kills, pauses, partitions and slows nodes,
// then checks each round's history for linearizability with porcupine and
// for the lock invariants.
func TestChaos(t *testing.T) {
	duration, seed := settings(t)
	t.Logf("seed %d, %v of faults (rerun: go test ./internal/chaos -run Chaos -chaos.seed %d -chaos.duration %v)",
		seed, duration, seed, duration)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cl := startCluster(t)
	var total stats
	for round, left := 0, duration; left > 0 && !t.Failed(); round, left = round+1, left-roundLength {
		total.add(runRound(t, cl, rng, round, min(left, roundLength), seed))
	}
	t.Logf("total: %d rounds, %d operations (%d with unknown outcome), %d faults: %s",
		total.rounds, total.ops, total.unknown, len(total.faults), summarize(total.faults))
}

type stats struct {
	rounds, ops, unknown int
	faults               []fault
}

func (s *stats) add(o stats) {
	s.rounds, s.ops, s.unknown = s.rounds+1, s.ops+o.ops, s.unknown+o.unknown
	s.faults = append(s.faults, o.faults...)
}

func runRound(t *testing.T, cl *chaosCluster, rng *rand.Rand, round int, length time.Duration, seed uint64) stats {
	rec := newRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), length)
	defer cancel()
	var wg sync.WaitGroup
	for i := range numClients {
		c := newClient(i, round, rand.New(rand.NewPCG(rng.Uint64(), uint64(i))), rec, cl)
		wg.Add(1)
		go func() { defer wg.Done(); c.run(ctx) }()
	}
	faults := cl.nemesis(ctx, rng)
	wg.Wait()
	cl.healAll()
	finalReads(t, rec, cl)
	rec.checkSquats(t, cl.isolated)
	ops := rec.operations()
	t.Logf("round %d: %d operations (%d with unknown outcome) under %d faults: %s",
		round, len(ops), rec.unknownCount(), len(faults), summarize(faults))
	t.Logf("round %d by name: %s", round, mix(ops))
	check(t, ops, seed)
	return stats{ops: len(ops), unknown: rec.unknownCount(), faults: faults}
}
