package apitest

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
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
	return StartServerWith(t, dir, nil)
}

// StartServerWith is StartServer with a chance to change the configuration
// first.
func StartServerWith(t testing.TB, dir string, configure func(*server.Config)) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Skew: TestSkew,
		Tokens: "alice:" + AliceToken + ",bob:" + BobToken,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := server.Start(ctx, cfg)
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

// DirContains reports whether any file under dir contains needle: tests
// use it to prove that secrets never reach the disk.
func DirContains(t testing.TB, dir, needle string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		found = found || bytes.Contains(b, []byte(needle))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// OpenToOthers lists what under dir (dir included) its group or other
// users may access, as "path mode"; links are not followed. Tests use it
// to prove that a data dir is private.
func OpenToOthers(t testing.TB, dir string) []string {
	t.Helper()
	var open []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		info, err := d.Info()
		if err == nil && info.Mode().Perm()&0o077 != 0 {
			open = append(open, path+" "+info.Mode().String())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return open
}
