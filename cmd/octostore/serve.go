package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/tune"
)

func runServe(args []string, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	cfg := server.Config{Stderr: stderr}
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:3000", "HTTP listen address")
	fs.StringVar(&cfg.DataDir, "data-dir", "./octostore-data", "directory for the Raft log and snapshots")
	fs.StringVar(&cfg.NodeID, "node-id", "", "Raft node ID (default: generated once and kept in the data dir)")
	fs.StringVar(&cfg.TokensFile, "tokens-file", "", "file of user:token lines (static bearer tokens)")
	fs.DurationVar(&cfg.Skew, "skew-margin", time.Second, "clock-skew margin: a lock is free only this long after its expires_at")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", "", "bearer token GET /metrics requires (prefer the env var); empty: /metrics is public")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", "", "serve Go's pprof profiles on this address (debugging; off when empty)")
	adminUsers := fs.String("admin-users", "", "comma list of static users who may list and revoke everyone's tokens")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	gh := addGitHubFlags(fs)
	hooks := addWebhookFlags(fs)
	clusterCfg := addClusterFlags(fs)
	limits := addLimitFlags(fs)
	tlsCfg := addServeTLSFlags(fs)
	ten := addTenancyFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return usageError(fs, err)
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err == nil && (cfg.Skew < 0 || cfg.Skew > time.Minute) {
		err = fmt.Errorf("--skew-margin must be between 0s and 1m")
	}
	if err == nil {
		err = checkServeTLS(tlsCfg)
	}
	if err == nil {
		cfg.SignIn, err = gh.signIn(cfg.Listen, tlsCfg.CertFile != "")
		cfg.TokenTTL = time.Duration(gh.tokenTTL)
	}
	if err == nil {
		cfg.Tenancy, err = ten.resolve(gh.allowAny)
		cfg.GroupsFile = ten.groupsFile
	}
	if err == nil {
		cfg.Webhooks, err = hooks.config()
	}
	if err == nil {
		err = clusterCfg.apply(&cfg)
	}
	if err == nil {
		err = checkLimits(limits)
	}
	if err != nil {
		return usageError(fs, err)
	}
	cfg.AdminUsers = commaList(*adminUsers)
	cfg.Limits = *limits
	cfg.TLS = *tlsCfg
	cfg.Logger = log
	cfg.Tokens = os.Getenv("OCTOSTORE_TOKENS")
	return serve(cfg)
}

func serve(cfg server.Config) int {
	if _, set := os.LookupEnv("GOGC"); !set {
		// A lock server's live heap is its state: the tuner bounds memory
		// by it without collecting a small heap constantly (package tune).
		defer tune.StartGC().Stop()
		// The headroom goes back to the system once a burst is over.
		defer tune.StartIdle().Stop()
	}
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		// One P until the server is busy on all it has and the machine
		// has a CPU to spare: cross-CPU wakeups cost more than they give
		// a server that needs less than a CPU (package tune).
		defer tune.StartProcs().Stop()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := notifySIGHUP(cfg.TLS.CertFile != "")
	defer signal.Stop(hup)
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		cfg.Logger.Error("cannot start", "err", err)
		return 1
	}
	go reloadOnSIGHUP(ctx, hup, srv)
	select {
	case <-ctx.Done():
		cfg.Logger.Info("shutting down")
	case err := <-srv.Done():
		cfg.Logger.Error("http server stopped", "err", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		cfg.Logger.Error("shutdown", "err", err)
		return 1
	}
	cfg.Logger.Info("stopped")
	return 0
}

// notifySIGHUP catches SIGHUP when serving TLS, before the server
// starts: a SIGHUP sent as soon as it serves must reload, not end it.
// Without TLS it returns nil and SIGHUP keeps its default effect (it
// ends the process).
func notifySIGHUP(enabled bool) chan os.Signal {
	if !enabled {
		return nil
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup
}

// reloadOnSIGHUP re-reads the TLS certificate and key at every SIGHUP
// until ctx ends; the server logs the outcome (a refused pair leaves the
// previous one in service).
func reloadOnSIGHUP(ctx context.Context, hup <-chan os.Signal, srv *server.Server) {
	for {
		select {
		case <-hup:
			srv.ReloadTLS()
		case <-ctx.Done():
			return
		}
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}
