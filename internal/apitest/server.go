package apitest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/server"
)

// Static users every test server knows.
const (
	AliceToken = "alice-test-token-0123456789"
	BobToken   = "bob-test-token-0123456789"
)

// TestSkew is the skew margin of test servers: short, so expiry tests are
// quick, but long enough to observe.
const TestSkew = 300 * time.Millisecond

// StartServer runs a server on an ephemeral loopback port with data in dir
// (a fresh temp dir when empty) and stops it when the test ends.
func StartServer(t testing.TB, dir string) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Skew: TestSkew,
		Tokens: "alice:" + AliceToken + ",bob:" + BobToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// Start runs a test server and returns a contract-checking client for it.
func Start(t testing.TB) (*server.Server, *Client) {
	t.Helper()
	srv := StartServer(t, "")
	return srv, New(t, "http://"+srv.Addr())
}
