package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/proctest"
)

// holdProc is a running `octostore lock hold`.
type holdProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	exited chan int
}

// startHold runs the binary as `lock hold NAME FLAGS -- sh -c SCRIPT` as
// alice against url, with DIR set to a temp dir for the script.
func startHold(t *testing.T, url, dir, name, script string, flags ...string) *holdProc {
	t.Helper()
	return startCLI(t, url, dir, nil, append(append([]string{"lock", "hold", name}, flags...), "--", "sh", "-c", script)...)
}

// startCLI runs the binary with args as alice against url, with DIR set
// to dir, and stdout to stdout (nil: discarded).
func startCLI(t *testing.T, url, dir string, stdout io.Writer, args ...string) *holdProc {
	t.Helper()
	p := &holdProc{cmd: exec.Command(binary, args...), exited: make(chan int, 1)}
	p.cmd.Stdout = stdout
	p.cmd.Env = append(proctest.CleanEnv(), "OCTOSTORE_URL="+url, "OCTOSTORE_TOKEN="+apitest.AliceToken,
		"XDG_CONFIG_HOME="+t.TempDir(), "DIR="+dir)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.exited <- ee.ExitCode()
			return
		}
		p.exited <- 0
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	})
	return p
}

// wait returns the exit code, failing the test after d.
func (p *holdProc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case code := <-p.exited:
		return code
	case <-time.After(d):
		t.Fatalf("lock hold did not exit within %v\n%s", d, p.stderr.String())
		return 0
	}
}

// readNanos reads a `date +%s%N` stamp.
func readNanos(t *testing.T, file string) time.Time {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q", file, b)
	}
	return time.Unix(0, n)
}

func exists(file string) bool {
	_, err := os.Stat(file)
	return err == nil
}

// serverAndDir starts a server and returns its URL and a temp dir for
// the commands' files.
func serverAndDir(t *testing.T) (string, string) {
	return "http://" + apitest.StartServer(t, "").Addr(), t.TempDir()
}

// heldByBob has bob acquire name for a minute and returns his client.
func heldByBob(t *testing.T, url, name string) *client.Client {
	t.Helper()
	bob, _ := client.New(url, apitest.BobToken)
	if _, err := bob.Acquire(t.Context(), name, client.AcquireOptions{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	return bob
}

// trapScript notes when it gets SIGTERM in $DIR/term and exits 7.
// (The stamp is renamed into place, so a reader never sees it half written.)
const trapScript = `trap 'date +%s%N > "$DIR/term.tmp"; mv "$DIR/term.tmp" "$DIR/term"; exit 7' TERM; ` +
	`echo ready > "$DIR/ready"; while :; do sleep 0.05; done`

// startTrapping runs lock hold with trapScript and waits until it runs.
func startTrapping(t *testing.T, url, dir, name string, flags ...string) *holdProc {
	t.Helper()
	p := startHold(t, url, dir, name, trapScript, flags...)
	poll.Until(t, 10*time.Second, "command started", func() bool { return exists(filepath.Join(dir, "ready")) })
	return p
}

func TestLockHold_RunsWithEnvAndReleases(t *testing.T) {
	url, dir := serverAndDir(t)
	p := startHold(t, url, dir, "ci/deploy",
		`echo "$OCTOSTORE_LOCK_NAME $OCTOSTORE_FENCING_TOKEN $OCTOSTORE_LEASE_EXPIRES_AT" > "$DIR/env"; exit 3`, "--ttl", "5s")
	if code := p.wait(t, 20*time.Second); code != 3 {
		t.Fatalf("exit %d, want the command's 3\n%s", code, p.stderr.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "env"))
	f := strings.Fields(string(b))
	if len(f) != 3 || f[0] != "ci/deploy" || f[1] != "1" {
		t.Fatalf("env: %q", b)
	}
	if _, err := time.Parse(time.RFC3339Nano, f[2]); err != nil {
		t.Fatalf("OCTOSTORE_LEASE_EXPIRES_AT: %v", err)
	}
	c, _ := client.New(url, apitest.BobToken)
	if st, err := c.Get(t.Context(), "ci/deploy", client.GetOptions{}); err != nil || st.Held {
		t.Fatalf("after the command: %+v %v", st, err)
	}
}

// Two holds of one lock run their commands one after the other.
func TestLockHold_Serializes(t *testing.T) {
	url, dir := serverAndDir(t)
	script := `s=$(date +%s%N); sleep 0.4; echo "$s $(date +%s%N) $OCTOSTORE_FENCING_TOKEN" > "$DIR/run.$$"`
	var ps []*holdProc
	for range 3 {
		ps = append(ps, startHold(t, url, dir, "deploy/prod", script, "--ttl", "5s", "--wait", "30s"))
	}
	for _, p := range ps {
		if code := p.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("exit %d\n%s", code, p.stderr.String())
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "run.*"))
	type run struct{ start, end, token int64 }
	var runs []run
	for _, f := range files {
		b, _ := os.ReadFile(f)
		var r run
		parts := strings.Fields(string(b))
		if len(parts) != 3 {
			t.Fatalf("%s: %q", f, b)
		}
		r.start, _ = strconv.ParseInt(parts[0], 10, 64)
		r.end, _ = strconv.ParseInt(parts[1], 10, 64)
		r.token, _ = strconv.ParseInt(parts[2], 10, 64)
		runs = append(runs, r)
	}
	if len(runs) != 3 {
		t.Fatalf("%d runs", len(runs))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].start < runs[j].start })
	for i := 1; i < len(runs); i++ {
		if runs[i].start < runs[i-1].end {
			t.Fatalf("run %d started %v before run %d ended", i, time.Duration(runs[i-1].end-runs[i].start), i-1)
		}
		if runs[i].token <= runs[i-1].token {
			t.Fatalf("fencing tokens not increasing: %+v", runs)
		}
		t.Logf("gap between runs: %v", time.Duration(runs[i].start-runs[i-1].end))
	}
}

// With the network to the server black-holed while the command runs, the
// command gets SIGTERM before the lease's expiry on the server, and the
// CLI exits with exitLeaseLost.
func TestLockHold_LeaseLostSignalsBeforeExpiry(t *testing.T) {
	srv := apitest.StartServer(t, "")
	proxy := apitest.StartProxy(t, srv.Addr())
	dir := t.TempDir()
	p := startTrapping(t, "http://"+proxy.Addr, dir, "deploy/partitioned", "--ttl", "3s", "--grace", "10s")
	proxy.BlackHole()
	poll.Until(t, 10*time.Second, "command got SIGTERM", func() bool { return exists(filepath.Join(dir, "term")) })
	c, _ := client.New("http://"+srv.Addr(), apitest.BobToken)
	st, err := c.Get(t.Context(), "deploy/partitioned", client.GetOptions{})
	if err != nil || !st.Held {
		t.Fatalf("the lock was no longer held when the command was told to stop: %+v %v", st, err)
	}
	term := readNanos(t, filepath.Join(dir, "term"))
	margin := st.ExpiresAt.Sub(term)
	t.Logf("SIGTERM reached the command %v before the server's expiry of the lease", margin)
	if margin <= 0 {
		t.Fatalf("SIGTERM %v after the lease expired", -margin)
	}
	if code := p.wait(t, 10*time.Second); code != exitLeaseLost {
		t.Fatalf("exit %d, want %d\n%s", code, exitLeaseLost, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "lease lost") {
		t.Fatalf("stderr: %s", p.stderr.String())
	}
}

// SIGINT to the CLI is forwarded to the command as SIGTERM; the lock is
// released once the command has exited, and the CLI exits with its status.
func TestLockHold_ForwardsInterrupt(t *testing.T) {
	url, dir := serverAndDir(t)
	p := startTrapping(t, url, dir, "deploy/interrupted", "--ttl", "5s")
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, 10*time.Second); code != 7 {
		t.Fatalf("exit %d, want the command's 7\n%s", code, p.stderr.String())
	}
	if !exists(filepath.Join(dir, "term")) {
		t.Fatal("the command did not get SIGTERM")
	}
	c, _ := client.New(url, apitest.BobToken)
	if st, err := c.Get(t.Context(), "deploy/interrupted", client.GetOptions{}); err != nil || st.Held {
		t.Fatalf("after the interrupt: %+v %v", st, err)
	}
}

func TestLockHold_HeldExits73(t *testing.T) {
	url, dir := serverAndDir(t)
	heldByBob(t, url, "deploy/busy")
	p := startHold(t, url, dir, "deploy/busy", `echo ran > "$DIR/ran"`, "--wait", "1s")
	if code := p.wait(t, 20*time.Second); code != exitLockHeld || exists(filepath.Join(dir, "ran")) {
		t.Fatalf("exit %d, want %d (and the command not run)\n%s", code, exitLockHeld, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "bob") {
		t.Fatalf("stderr does not name the holder: %s", p.stderr.String())
	}
}

// A renewal refused (here: the token was revoked) is a definitive loss:
// the command is stopped at once, long before the lease could expire.
func TestLockHold_RefusedRenewalStopsTheCommand(t *testing.T) {
	url, dir := serverAndDir(t)
	p := startTrapping(t, url, dir, "deploy/revoked", "--ttl", "6s")
	alice, _ := client.New(url, apitest.AliceToken)
	toks, err := alice.ListTokens(t.Context(), false)
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens: %+v %v", toks, err)
	}
	revoked := time.Now()
	if err := alice.RevokeToken(t.Context(), toks[0].ID); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t, 10*time.Second); code != exitLeaseLost {
		t.Fatalf("exit %d, want %d\n%s", code, exitLeaseLost, p.stderr.String())
	}
	term := readNanos(t, filepath.Join(dir, "term"))
	t.Logf("SIGTERM %v after the revocation", term.Sub(revoked))
	if term.Sub(revoked) > 4*time.Second || !strings.Contains(p.stderr.String(), "401") {
		t.Fatalf("stopped %v after the revocation:\n%s", term.Sub(revoked), p.stderr.String())
	}
}

// Interrupted while waiting for the lock: the command never runs, the
// wait is abandoned, and the exit code is 128+SIGINT.
func TestLockHold_InterruptedWhileWaiting(t *testing.T) {
	url, dir := serverAndDir(t)
	bob := heldByBob(t, url, "deploy/queued")
	p := startHold(t, url, dir, "deploy/queued", `echo ran > "$DIR/ran"`, "--wait", "1m")
	poll.Until(t, 10*time.Second, "waiting in the queue", func() bool {
		st, err := bob.Get(t.Context(), "deploy/queued", client.GetOptions{})
		return err == nil && st.Waiters == 1
	})
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, 10*time.Second); code != 128+int(syscall.SIGINT) || exists(filepath.Join(dir, "ran")) {
		t.Fatalf("exit %d, want %d (and the command not run)\n%s", code, 128+int(syscall.SIGINT), p.stderr.String())
	}
	poll.Until(t, 5*time.Second, "the waiter left the queue", func() bool {
		st, err := bob.Get(t.Context(), "deploy/queued", client.GetOptions{})
		return err == nil && st.Waiters == 0 && st.Holder == "bob"
	})
}
