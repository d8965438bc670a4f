package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

var clusterEnv = append([]string{"OCTOSTORE_CLUSTER_KEY=process-cluster-key-0123456789", "OCTOSTORE_ADMIN_USERS=tester"}, tokensEnv...)

type clusterStatus struct {
	Leader string
	Nodes  []struct {
		ID       string
		HTTPAddr string `json:"http_addr"`
	}
	StateIndex  uint64 `json:"state_index"`
	StateDigest string `json:"state_digest"`
}

func status(t *testing.T, addr string) clusterStatus {
	t.Helper()
	var st clusterStatus
	apitest.New(t, addr).Do("GET", "/cluster?digest=true", token, nil).JSON(t, &st)
	return st
}

// TestCluster_KillDashNineLeader: three real processes; the leader is
// kill -9ed under load and restarted; every acknowledged acquire is held
// and all three nodes converge to the same state.
func TestCluster_KillDashNineLeader(t *testing.T) {
	procs := map[string]*proc{}
	dirs := map[string]string{}
	for i, id := range []string{"n1", "n2", "n3"} {
		dirs[id] = t.TempDir()
		args := []string{"--node-id", id, "--data-dir", dirs[id], "--raft-addr", "127.0.0.1:0"}
		if i > 0 {
			args = append(args, "--join", procs["n1"].Raft)
		}
		procs[id] = startServe(t, clusterEnv, args...)
	}
	poll.Until(t, 15*time.Second, "three members", func() bool {
		st := status(t, procs["n3"].Addr)
		return len(st.Nodes) == 3 && st.Leader != "" && st.Nodes[2].HTTPAddr != ""
	})
	leaderID := status(t, procs["n1"].Addr).Leader
	var mu sync.Mutex
	acked := map[string]string{} // name → lease
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, id := range []string{"n1", "n2", "n3", "n1", "n2", "n3"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadOne(t, procs, id, w, stop, &mu, acked)
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	poll.Until(t, 20*time.Second, "load before the kill", func() bool { return count() >= 200 })
	killed := procs[leaderID]
	killed.Kill()
	before := count()
	poll.Until(t, 20*time.Second, "load after the kill", func() bool { return count() >= before+200 })
	close(stop)
	wg.Wait()
	procs[leaderID] = startServe(t, clusterEnv, "--node-id", leaderID, "--data-dir", dirs[leaderID],
		"--listen", strings.TrimPrefix(killed.Addr, "http://"), "--raft-addr", killed.Raft)
	poll.Until(t, 20*time.Second, "the three nodes to converge", func() bool {
		a, b, c := status(t, procs["n1"].Addr), status(t, procs["n2"].Addr), status(t, procs["n3"].Addr)
		return a.StateDigest != "" && a.StateIndex == b.StateIndex && b.StateIndex == c.StateIndex &&
			a.StateDigest == b.StateDigest && b.StateDigest == c.StateDigest
	})
	c := apitest.New(t, procs["n2"].Addr)
	for name, lease := range acked {
		var l struct {
			LeaseID string `json:"lease_id"`
		}
		c.Do("GET", "/locks/"+name, token, nil).JSON(t, &l)
		if l.LeaseID != lease {
			t.Fatalf("%s: acknowledged lease %s, now %q", name, lease, l.LeaseID)
		}
	}
	t.Logf("%d acknowledged acquires checked; killed leader %s, nodes converged", len(acked), leaderID)
}

// loadOne acquires fresh names through one node until stop, recording the
// acknowledged ones; 503s (no leader, outcome unknown) are retried with a
// new name and are allowed to have happened or not.
func loadOne(t *testing.T, procs map[string]*proc, id string, w int, stop chan struct{}, mu *sync.Mutex, acked map[string]string) {
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		name := "ha/" + strconv.Itoa(w) + "/" + strconv.Itoa(i)
		req, _ := http.NewRequest("POST", procs[id].Addr+"/locks/"+name+"/acquire", strings.NewReader(`{"ttl_seconds":600}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			time.Sleep(50 * time.Millisecond) // this node is the one killed
			continue
		}
		var l struct {
			LeaseID string `json:"lease_id"`
		}
		json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			mu.Lock()
			acked[name] = l.LeaseID
			mu.Unlock()
		} else if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("acquire %s via %s: %d", name, id, resp.StatusCode)
			return
		}
	}
}

// TestSnapshot_SaveRestore: a backup of a running node seeds a new one
// with the same locks, tokens and fencing counter.
func TestSnapshot_SaveRestore(t *testing.T) {
	p := startServe(t, clusterEnv, "--node-id", "n1", "--data-dir", t.TempDir(), "--raft-addr", "127.0.0.1:0")
	c := apitest.New(t, p.Addr)
	var first struct {
		LeaseID      string `json:"lease_id"`
		FencingToken uint64 `json:"fencing_token"`
	}
	c.Do("POST", "/locks/backed/up/acquire", token, map[string]any{"ttl_seconds": 3600}).JSON(t, &first)
	var out, errb bytes.Buffer
	if code := run([]string{"cluster", "status", "--url", p.Addr, "--token", token}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "leader n1") || !strings.Contains(out.String(), "leader  ") && !strings.Contains(out.String(), "n1") {
		t.Fatalf("cluster status: exit %d\n%s%s", code, out.String(), errb.String())
	}
	file := filepath.Join(t.TempDir(), "backup.snap")
	if code := run([]string{"snapshot", "save", file, "--url", p.Addr, "--token", token}, &out, &errb); code != 0 {
		t.Fatalf("save: %s", errb.String())
	}
	dir := t.TempDir()
	if code := run([]string{"snapshot", "restore", file, "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("restore: %s", errb.String())
	}
	if code := run([]string{"snapshot", "restore", file, "--data-dir", dir}, &out, &errb); code == 0 {
		t.Fatal("restore into a used data dir succeeded")
	}
	restored := apitest.New(t, startServe(t, tokensEnv, "--data-dir", dir).Addr)
	var got struct {
		LeaseID string `json:"lease_id"`
	}
	restored.Do("GET", "/locks/backed/up", token, nil).JSON(t, &got)
	var next struct {
		FencingToken uint64 `json:"fencing_token"`
	}
	restored.Do("POST", "/locks/after/restore/acquire", token, map[string]any{"ttl_seconds": 60}).JSON(t, &next)
	if got.LeaseID != first.LeaseID || next.FencingToken <= first.FencingToken {
		t.Fatalf("restored lock %+v, next token %d after %d", got, next.FencingToken, first.FencingToken)
	}
}
