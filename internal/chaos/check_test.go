package chaos

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/octostore/octostore/internal/poll"
)

// finalReads reads every lock through the leader after all faults healed,
// so the history ends with what survived: an acknowledged write that was
// lost makes it non-linearizable.
func finalReads(t *testing.T, rec *recorder, cl *chaosCluster) {
	leader := cl.waitLeader()
	c := &client{rec: rec, http: &http.Client{Timeout: 10 * time.Second}, token: cl.readerToken()}
	for _, in := range rec.lockReads() {
		poll.Until(t, 5*time.Second, "final read of "+in.Name, func() bool {
			call := rec.now()
			out := c.send(leader.httpURL(), in)
			if out.Status == http.StatusOK {
				rec.add(0, in, call, out)
			}
			return out.Status == http.StatusOK
		})
	}
}

// check verifies the history: porcupine for linearizability against the
// model, then the invariants directly.
func check(t *testing.T, ops []porcupine.Operation, seed uint64) {
	model := Model.ToModel()
	res, info := porcupine.CheckOperationsVerbose(model, ops, 5*time.Minute)
	switch res {
	case porcupine.Illegal:
		t.Errorf("history is not linearizable (seed %d); visualization: %s; failing partitions: %s",
			seed, visualize(t, model, info, seed), dumpFailing(t, model, ops, seed))
	case porcupine.Unknown:
		t.Errorf("the checker timed out (seed %d); history of %d operations not proven", seed, len(ops))
	}
	if err := tokensIncrease(ops); err != nil {
		t.Errorf("seed %d: %v", seed, err)
	}
}

// dumpFailing writes the operations of every partition that is not
// linearizable on its own, one per line in call order, for reading.
func dumpFailing(t *testing.T, model porcupine.Model, ops []porcupine.Operation, seed uint64) string {
	var b strings.Builder
	for _, part := range model.Partition(ops) {
		if porcupine.CheckOperations(model, part) {
			continue
		}
		slices.SortStableFunc(part, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		fmt.Fprintf(&b, "--- partition of %d operations\n", len(part))
		for _, op := range part {
			ret := "…"
			if op.Return != math.MaxInt64 {
				ret = time.Duration(op.Return).String()
			}
			fmt.Fprintf(&b, "%12v %12s  %s\n", time.Duration(op.Call), ret, describe(op.Input.(Input), op.Output.(Output)))
		}
	}
	path := filepath.Join(outDir(), fmt.Sprintf("octostore-chaos-%d.txt", seed))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Logf("writing the failing partitions: %v", err)
	}
	return path
}

func outDir() string {
	if dir := os.Getenv("OCTOSTORE_CHAOS_OUT"); dir != "" {
		return dir
	}
	return os.TempDir()
}

func visualize(t *testing.T, model porcupine.Model, info porcupine.LinearizationInfo, seed uint64) string {
	path := filepath.Join(outDir(), fmt.Sprintf("octostore-chaos-%d.html", seed))
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		t.Logf("writing the visualization: %v", err)
	}
	return path
}

// tokensIncrease: a grant that began after another had been answered has
// a larger fencing token, whatever the locks.
func tokensIncrease(ops []porcupine.Operation) error {
	var grants []porcupine.Operation
	for _, op := range ops {
		if out := op.Output.(Output); !out.Unknown && out.State == "acquired" && out.Status == http.StatusOK {
			grants = append(grants, op)
		}
	}
	byReturn := slices.Clone(grants)
	slices.SortFunc(byReturn, func(a, b porcupine.Operation) int { return cmp.Compare(a.Return, b.Return) })
	slices.SortFunc(grants, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
	var highest uint64
	var highestOp porcupine.Operation
	i := 0
	for _, g := range grants {
		for ; i < len(byReturn) && byReturn[i].Return < g.Call; i++ {
			if tok := byReturn[i].Output.(Output).Token; tok > highest {
				highest, highestOp = tok, byReturn[i]
			}
		}
		if tok := g.Output.(Output).Token; tok <= highest {
			return fmt.Errorf("token %d granted after token %d had been (%v then %v)", tok, highest, highestOp.Input, g.Input)
		}
	}
	return nil
}

// mix counts a round's operations by kind of name, with the acquires
// (campaigns) answered 200 and 409, and the status reads that saw a full
// semaphore or several shared holders: what the round exercised.
func mix(ops []porcupine.Operation) string {
	kinds := []string{"mutex", "semaphore", "read/write", "election", "session"}
	var n, granted, refused [5]int
	full, readers := 0, 0
	for _, op := range ops {
		in, out := op.Input.(Input), op.Output.(Output)
		k := 0
		switch {
		case in.Name == "":
			k = 4
		case in.Election:
			k = 3
		case in.Limit > 0:
			k = 1
		case in.RW:
			k = 2
		}
		n[k]++
		switch {
		case out.Unknown:
		case in.Op == OpAcquire && out.Status == http.StatusOK:
			granted[k]++
		case in.Op == OpAcquire && out.Status == http.StatusConflict:
			refused[k]++
		case in.Op == OpGet && in.Limit > 0 && len(out.Holders) == in.Limit:
			full++
		case in.Op == OpGet && in.RW && out.Mode == "shared" && len(out.Holders) > 1:
			readers++
		}
	}
	var parts []string
	for k, kind := range kinds[:4] {
		parts = append(parts, fmt.Sprintf("%s %d (acquires: %d 200, %d 409)", kind, n[k], granted[k], refused[k]))
	}
	return fmt.Sprintf("%s, session %d; reads of a full semaphore %d, of several shared holders %d",
		strings.Join(parts, ", "), n[4], full, readers)
}
