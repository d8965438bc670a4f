package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/proctest"
)

// releaseFixture is the data dir the last release with raft.db wrote
// (internal/cluster/testdata/make-fixture.sh), copied to a temp dir.
func releaseFixture(t *testing.T) (dir string, fx struct {
	Token       string `json:"token"`
	WebhookID   string `json:"webhook_id"`
	ScopedToken struct {
		ID string `json:"id"`
	} `json:"scoped_token"`
}) {
	t.Helper()
	const src = "../../internal/cluster/testdata/bolt-v1"
	data, err := os.ReadFile(filepath.Join(src, "fixture.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(src, "data"))); err != nil {
		t.Fatal(err)
	}
	return dir, fx
}

// TestServe_MigratesReleaseDataDir: the real binary started on a data dir
// of the last release with raft.db migrates it to the WAL (and says so),
// serves its tokens and webhook, hands out fencing tokens above the old
// ones, and keeps a new write across a restart that migrates nothing.
func TestServe_MigratesReleaseDataDir(t *testing.T) {
	dir, fx := releaseFixture(t)
	env := []string{"OCTOSTORE_TOKENS=tester:" + fx.Token}
	p := startServe(t, env, "--data-dir", dir)
	c := apitest.New(t, p.Addr)
	var tokens struct {
		Tokens []struct{ ID string } `json:"tokens"`
	}
	c.Do("GET", "/auth/tokens", fx.Token, nil).JSON(t, &tokens)
	if !strings.Contains(fmt.Sprint(tokens), fx.ScopedToken.ID) {
		t.Errorf("scoped token %s not listed after the migration: %+v", fx.ScopedToken.ID, tokens)
	}
	if r := c.Do("GET", "/webhooks", fx.Token, nil); !bytes.Contains(r.Body, []byte(fx.WebhookID)) {
		t.Errorf("webhook %s not listed after the migration: %s", fx.WebhookID, r.Body)
	}
	var lock struct {
		FencingToken uint64 `json:"fencing_token"`
	}
	c.Do("POST", "/locks/after/migration/acquire", fx.Token, map[string]any{"ttl_seconds": 600}).JSON(t, &lock)
	if lock.FencingToken <= 4 { // make-fixture.sh handed out 1..4
		t.Errorf("fencing token %d after the migration", lock.FencingToken)
	}
	stopServe(t, p)
	if !strings.Contains(p.Log(), "migrated the raft log from raft.db to the WAL") {
		t.Errorf("the migration was not logged:\n%s", p.Log())
	}

	p = startServe(t, env, "--data-dir", dir)
	var got struct {
		FencingToken uint64 `json:"fencing_token"`
	}
	apitest.New(t, p.Addr).Do("GET", "/locks/after/migration", fx.Token, nil).JSON(t, &got)
	if got.FencingToken != lock.FencingToken {
		t.Errorf("lock after restart: token %d, want %d", got.FencingToken, lock.FencingToken)
	}
	stopServe(t, p)
	if strings.Contains(p.Log(), "migrated") {
		t.Errorf("migrated again on the second start:\n%s", p.Log())
	}
}

func stopServe(t *testing.T, p *proctest.Proc) {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Log())
	}
}

// TestServe_CorruptLogRefusesToStart: a record damaged in the middle of
// the log (not a torn tail) makes `octostore serve` exit non-zero with a
// message naming the file, instead of serving a shortened history.
func TestServe_CorruptLogRefusesToStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	p := startServe(t, tokensEnv, "--data-dir", dir)
	c := apitest.New(t, p.Addr)
	for i := range 10 {
		c.Do("POST", fmt.Sprintf("/locks/corrupt-%d/acquire", i), token, map[string]any{"ttl_seconds": 600})
	}
	stopServe(t, p)
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte("corrupt-4"))
	if at < 0 {
		t.Fatal("lock name not found in the segment")
	}
	f, err := os.OpenFile(segs[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("X"), int64(at)) // a bit flip inside a record the later ones follow
	f.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
	cmd.Env = append(proctest.CleanEnv(), tokensEnv...)
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code == 0 || ctx.Err() != nil {
		t.Fatalf("serve on a corrupt log: exit %d, %v\n%s", code, err, out)
	}
	if !strings.Contains(string(out), "raft log is corrupt") || !strings.Contains(string(out), segs[0]) {
		t.Fatalf("the error does not name the problem and the file:\n%s", out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
