package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/octostore/octostore/internal/bench"
)

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench", stderr)
	var cfg bench.Config
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:3000", "server base URL")
	fs.StringVar(&cfg.Token, "token", "", "bearer token")
	fs.IntVar(&cfg.Concurrency, "concurrency", 16, "concurrent workers")
	fs.DurationVar(&cfg.Duration, "duration", 10e9, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 1e9, "unmeasured warm-up before the window (negative: none)")
	fs.DurationVar(&cfg.TTL, "ttl", 60e9, "lock TTL")
	fs.StringVar(&cfg.Prefix, "prefix", "", "lock name prefix (default: bench/<random>)")
	fs.DurationVar(&cfg.Wait, "wait", 0, "contended workload: every worker loops acquire (waiting up to this long in the FIFO queue) and release on one lock, each as its own session")
	fs.IntVar(&cfg.Limit, "limit", 0, "semaphore workload: every worker loops acquire of a slot of one name with this many slots (2..1000; waiting up to --wait, default 10s, in its FIFO queue) and release")
	fs.BoolVar(&cfg.Shared, "shared", false, "shared workload: every worker, its own session, loops a shared acquire of one name (a read/write lock's readers) and release")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	tlsFlags := addTLSFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return usageError(fs, err)
	}
	var err error
	if cfg.TLS, err = tlsFlags.config(); err != nil {
		fmt.Fprintln(stderr, "octostore bench:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	report, err := bench.Run(ctx, cfg)
	if err != nil && report.Cycles == 0 {
		fmt.Fprintln(stderr, "octostore bench:", safeText(err.Error()))
		return 1
	}
	report.FirstError = safeText(report.FirstError) // a server's error message
	write := report.WriteText
	if *asJSON {
		write = report.WriteJSON
	}
	if werr := write(stdout); werr != nil {
		return 1
	}
	if err != nil || report.Errors > 0 || report.Violations > 0 {
		return 1
	}
	return 0
}
