// Command floor is the least an HTTP/JSON lock server can cost: it
// answers `octostore bench`'s and the shared load generator's requests
// (create a session, acquire, release) with answers of the same shape and
// size, and does nothing else: no authentication, no state, no Raft.
//
// By default it is built on net/http and encoding/json, as OctoStore is,
// so bench/cpu-per-cycle.sh can say how much of a cycle is net/http and
// the kernel's loopback TCP, which no change to OctoStore's own code
// removes. With -raw it is a hand-written HTTP/1.1 loop instead (one
// buffered read and one write per request, no goroutine but the
// connection's): what leaving net/http could at best give. With -fsync
// DIR every acquire and release also writes a record into a preallocated
// file in DIR and fdatasyncs it before answering, one at a time: the
// durable ceiling of a single client (bench/ceilings.sh).
//
//	go run ./bench/floor [-raw] [-fsync DIR] 127.0.0.1:13999
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

var token atomic.Uint64

func main() {
	raw := flag.Bool("raw", false, "serve with a hand-written HTTP/1.1 loop instead of net/http")
	fsyncDir := flag.String("fsync", "", "write and fdatasync a record per acquire and release, in this directory")
	flag.Parse()
	if flag.NArg() != 1 || !strings.HasPrefix(flag.Arg(0), "127.0.0.1:") {
		fmt.Fprintln(os.Stderr, "usage: floor [-raw] [-fsync DIR] 127.0.0.1:PORT")
		os.Exit(2)
	}
	if *fsyncDir != "" {
		if err := openLog(*fsyncDir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if *raw {
		ln, err := net.Listen("tcp", flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		serveRaw(ln)
	}
	srv := &http.Server{Addr: flag.Arg(0), Handler: http.HandlerFunc(handle), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintln(os.Stderr, srv.ListenAndServe())
	os.Exit(1)
}

func handle(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", "floor")
	w.Write(answer(r.URL.Path, b))
}

// answer decodes the request's JSON body, makes it durable when it is an
// acquire or a release and a log is open, and encodes the answer of the shape
// OctoStore gives, with encoding/json: both floors do exactly this.
func answer(path string, body []byte) []byte {
	var in map[string]any
	if len(body) > 0 {
		_ = json.Unmarshal(body, &in)
	}
	var out any
	switch {
	case path == "/health" || path == "/ready":
		out = map[string]string{"status": "ok"}
	case strings.HasSuffix(path, "/acquire"):
		durable(body, path)
		out = map[string]any{"status": "acquired", "name": strings.TrimSuffix(strings.TrimPrefix(path, "/locks/"), "/acquire"),
			"lease_id": "9de484d2-73bb-42d1-9a1c-b0b512dd136b", "fencing_token": token.Add(1),
			"expires_at": time.Now().Add(time.Minute).UTC(), "holder": "bench"}
	case strings.HasSuffix(path, "/release"):
		durable(body, path)
		out = map[string]string{"status": "released", "message": "Lock released"}
	default: // sessions: create, keepalive, delete
		out = map[string]any{"session_id": "5f0c6a9e-2b7d-4c1e-9a53-0d8e7f6b1c2a", "ttl_seconds": 60,
			"expires_at": time.Now().Add(time.Minute).UTC(), "keepalive_interval_secs": 30}
	}
	b, _ := json.Marshal(out)
	return append(b, '\n')
}
