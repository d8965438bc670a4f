package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// runHealth asks a node whether it is alive (/health) or ready to serve
// linearizable requests (/ready): exit 0 if so, 1 if not. It needs no
// token, so container health checks and load balancers' scripts can use it
// with nothing but the binary.
func runHealth(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("health", stderr)
	url := fs.String("url", "http://127.0.0.1:3000", "server base URL")
	ready := fs.Bool("ready", false, "ask /ready (can serve linearizable requests) instead of /health (alive)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	tlsFlags := addTLSFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return usageError(fs, err)
	}
	hc, err := tlsFlags.httpClient()
	if err != nil {
		fmt.Fprintln(stderr, "octostore health:", err)
		return exitFailure
	}
	path := "/health"
	if *ready {
		path = "/ready"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	status, err := probe(ctx, hc, strings.TrimRight(*url, "/")+path)
	if err != nil {
		fmt.Fprintln(stderr, "octostore health:", safeText(err.Error()))
		return exitFailure
	}
	fmt.Fprintln(stdout, safeText(status))
	if !strings.HasPrefix(status, "200 ") {
		return exitFailure
	}
	return 0
}

func probe(ctx context.Context, hc *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.Status, nil
}
