// Command floor is the least an HTTP/JSON lock server built on net/http
// can cost: it answers `octostore bench`'s requests (create a session,
// acquire, release) with answers of the same shape and size, decoding and
// encoding JSON with encoding/json, and does nothing else: no
// authentication, no state, no Raft, no disk. bench/cpu-per-cycle.sh
// measures its CPU per acquire+release cycle beside the real server's, so
// BENCHMARKS.md can say how much of a cycle is net/http and the kernel's
// loopback TCP, which no change to OctoStore's own code removes.
//
//	go run ./bench/floor 127.0.0.1:13999
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

var token atomic.Uint64

func main() {
	if len(os.Args) != 2 || !strings.HasPrefix(os.Args[1], "127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "usage: floor 127.0.0.1:PORT")
		os.Exit(2)
	}
	srv := &http.Server{Addr: os.Args[1], Handler: http.HandlerFunc(handle), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}

func handle(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		_ = json.Unmarshal(b, &in)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", "floor")
	var out any
	switch {
	case r.URL.Path == "/health" || r.URL.Path == "/ready":
		out = map[string]string{"status": "ok"}
	case strings.HasSuffix(r.URL.Path, "/acquire"):
		out = map[string]any{"status": "acquired", "name": strings.TrimPrefix(r.URL.Path, "/locks/"),
			"lease_id": "9de484d2-73bb-42d1-9a1c-b0b512dd136b", "fencing_token": token.Add(1),
			"expires_at": time.Now().Add(time.Minute).UTC(), "holder": "bench"}
	case strings.HasSuffix(r.URL.Path, "/release"):
		out = map[string]string{"status": "released", "message": "Lock released"}
	default: // sessions: create, keepalive, delete
		out = map[string]any{"session_id": "5f0c6a9e-2b7d-4c1e-9a53-0d8e7f6b1c2a", "ttl_seconds": 60,
			"expires_at": time.Now().Add(time.Minute).UTC(), "keepalive_interval_secs": 30}
	}
	_ = json.NewEncoder(w).Encode(out)
}
