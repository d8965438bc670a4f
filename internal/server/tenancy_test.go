package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/tenancy"
)

// TestTenancy_GroupsFile: a groups file that does not parse stops the
// start (naming the line); members that are not configured users are
// named in a warning, since they own nothing through the group.
func TestTenancy_GroupsFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	good := filepath.Join(dir, "good")
	os.WriteFile(bad, []byte("ops: alice\nops alice\n"), 0o600)
	os.WriteFile(good, []byte("ops: alice, alcie\n"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), GroupsFile: bad,
		Tenancy: tenancy.Isolated})
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad groups file: %v", err)
	}
	logs := &apitest.LogBuffer{}
	restartable(t, t.TempDir(), logs, func(c *server.Config) { c.Tenancy, c.GroupsFile = tenancy.Isolated, good })
	if !strings.Contains(logs.String(), "users=[alcie]") {
		t.Fatalf("log: %s", logs)
	}
}
