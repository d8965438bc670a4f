package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/proctest"
	"github.com/octostore/octostore/internal/server"
)

// premadeDataDir is a data dir made before the server ran, as a Dockerfile
// or an operator makes it: 0755, with a 0644 file in it.
func premadeDataDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755) // whatever the umask
	return dir
}

// TestServe_PremadeDataDirBecomesPrivate: the real binary started on a
// 0755 data dir holding a 0644 file tightens both, says so once, and
// leaves nothing others can read.
func TestServe_PremadeDataDirBecomesPrivate(t *testing.T) {
	dir := premadeDataDir(t)
	notes := filepath.Join(dir, "notes.txt")
	os.WriteFile(notes, []byte("left by the operator"), 0o644)
	os.Chmod(notes, 0o644)
	p := startServe(t, tokensEnv, "--data-dir", dir)
	apitest.New(t, p.Addr).Do("POST", "/locks/x/acquire", token, map[string]any{"ttl_seconds": 60})
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Log())
	}
	if n := strings.Count(p.Log(), "open to other users"); n != 1 || !strings.Contains(p.Log(), "notes.txt") {
		t.Fatalf("want one line reporting the tightening, got %d:\n%s", n, p.Log())
	}
	if open := apitest.OpenToOthers(t, dir); len(open) != 0 {
		t.Fatalf("open to others:\n%s", strings.Join(open, "\n"))
	}
}

// TestSnapshot_RestoreIntoPremadeDirIsPrivate: a backup (token hashes,
// webhook secrets) restored into a data dir made beforehand is readable by
// its owner only: in the real process, and in-process under the test's
// umask, where the data dir code alone must do it.
func TestSnapshot_RestoreIntoPremadeDirIsPrivate(t *testing.T) {
	srv := apitest.StartServerWith(t, "", func(c *server.Config) { c.AdminUsers = []string{"alice"} })
	url := "http://" + srv.Addr()
	file := filepath.Join(t.TempDir(), "backup.snap")
	if code, _, errs := cli(t, url, "snapshot", "save", file); code != 0 {
		t.Fatalf("save: %s", errs)
	}
	restores := map[string]func(dir string) (int, string){
		"binary": func(dir string) (int, string) {
			cmd := exec.Command(binary, "snapshot", "restore", file, "--data-dir", dir)
			cmd.Env = proctest.CleanEnv()
			out, err := cmd.CombinedOutput()
			return cmd.ProcessState.ExitCode(), string(out) + errString(err)
		},
		"in-process": func(dir string) (int, string) {
			var out bytes.Buffer
			return run([]string{"snapshot", "restore", file, "--data-dir", dir}, &out, &out), out.String()
		},
	}
	for name, restore := range restores {
		t.Run(name, func(t *testing.T) {
			dir := premadeDataDir(t)
			if code, out := restore(dir); code != 0 {
				t.Fatalf("restore: exit %d: %s", code, out)
			}
			if states, _ := filepath.Glob(filepath.Join(dir, "snapshots", "*", "state.bin")); len(states) != 1 {
				t.Fatalf("restored snapshots: %v", states)
			}
			if open := apitest.OpenToOthers(t, dir); len(open) != 0 {
				t.Fatalf("open to others:\n%s", strings.Join(open, "\n"))
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
