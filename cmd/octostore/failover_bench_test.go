package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/poll"
)

// BenchmarkFailover measures how long a 3-node cluster of real processes
// is not writable after kill -9 of its leader: from the kill to the first
// acknowledged acquire through a surviving node. It reports the median
// and the worst over b.N failovers.
//
//	go test ./cmd/octostore -run XXX -bench Failover -benchtime 10x
func BenchmarkFailover(b *testing.B) {
	procs, dirs := map[string]*proc{}, map[string]string{}
	for i, id := range []string{"n1", "n2", "n3"} {
		dirs[id] = b.TempDir()
		args := []string{"--node-id", id, "--data-dir", dirs[id], "--raft-addr", "127.0.0.1:0"}
		if i > 0 {
			args = append(args, "--join", procs["n1"].Raft)
		}
		procs[id] = startServe(b, clusterEnv, args...)
	}
	var outages []time.Duration
	for i := 0; i < b.N; i++ {
		leader := waitForLeader(b, procs)
		survivor := procs[otherThan(procs, leader)]
		killed := procs[leader]
		start := time.Now()
		killed.Kill()
		poll.Until(b, time.Minute, "writable after the kill", func() bool {
			return acquireOnce(survivor.Addr, "failover/"+strconv.Itoa(i))
		})
		outages = append(outages, time.Since(start))
		procs[leader] = startServe(b, clusterEnv, "--node-id", leader, "--data-dir", dirs[leader],
			"--listen", strings.TrimPrefix(killed.Addr, "http://"), "--raft-addr", killed.Raft)
	}
	slices.Sort(outages)
	b.ReportMetric(float64(outages[len(outages)/2].Milliseconds()), "ms-median-unwritable")
	b.ReportMetric(float64(outages[len(outages)-1].Milliseconds()), "ms-max-unwritable")
}

// getJSON GETs url as the test user and decodes the answer.
func getJSON(url string, out any) error {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func acquireOnce(base, name string) bool {
	client := &http.Client{Timeout: 2 * time.Second}
	req, _ := http.NewRequest("POST", base+"/locks/"+name+"/acquire", strings.NewReader(`{"ttl_seconds":60}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitForLeader(tb testing.TB, procs map[string]*proc) string {
	var leader string
	poll.Until(tb, 20*time.Second, "a leader of all three nodes", func() bool {
		for _, p := range procs {
			var st clusterStatus
			if getJSON(p.Addr+"/cluster", &st) == nil && st.Leader != "" && len(st.Nodes) == 3 {
				leader = st.Leader
				return true
			}
		}
		return false
	})
	return leader
}

func otherThan(procs map[string]*proc, leader string) string {
	for id := range procs {
		if id != leader {
			return id
		}
	}
	return ""
}
