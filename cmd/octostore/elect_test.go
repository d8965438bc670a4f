package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

// startElect runs `elect NAME FLAGS -- sh -c SCRIPT` as alice.
func startElect(t *testing.T, url, dir, name, script string, flags ...string) *holdProc {
	t.Helper()
	return startCLI(t, url, dir, nil, append(append([]string{"elect", name}, flags...), "--", "sh", "-c", script)...)
}

// leaderScript writes "$OCTOSTORE_TERM $OCTOSTORE_LEADER_VALUE $$" to
// $DIR/$1 when it starts leading, and then runs until signalled.
func leaderScript(file string) string {
	return `echo "$OCTOSTORE_TERM $OCTOSTORE_LEADER_VALUE $$" > "$DIR/` + file + `.tmp"; mv "$DIR/` + file + `.tmp" "$DIR/` + file + `"; ` +
		`while :; do sleep 0.05; done`
}

// readTerm reads what leaderScript wrote: the term, the value, and the
// command's process group, killed when the test ends.
func readTerm(t *testing.T, file string) (uint64, string, int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		t.Fatalf("%s: %q", file, b)
	}
	term, err1 := strconv.ParseUint(f[0], 10, 64)
	pgid, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: %q", file, b)
	}
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
	return term, f[1], pgid
}

// alive reports whether process pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func leaderOf(t *testing.T, c *client.Client, name string) *client.ElectionStatus {
	t.Helper()
	s, err := c.Election(name).Leader(t.Context(), client.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The leader is killed with SIGKILL: its lease is no longer renewed, and
// the second candidate, waiting, becomes leader once it has ended, in a
// higher term. The command ends with leadership resigned.
func TestElect_HandoverWhenTheLeaderIsKilled(t *testing.T) {
	url, dir := serverAndDir(t)
	bob, _ := client.New(url, apitest.BobToken)
	first := startElect(t, url, dir, "svc/scheduler", leaderScript("first"), "--ttl", "3s", "--value", "10.0.0.1:7000")
	poll.Until(t, 10*time.Second, "the first candidate leads", func() bool { return exists(filepath.Join(dir, "first")) })
	term1, value, pgid1 := readTerm(t, filepath.Join(dir, "first"))
	if value != "10.0.0.1:7000" {
		t.Fatalf("value %q", value)
	}
	// The same token, its own session: a second candidate, not the leader again.
	second := startElect(t, url, dir, "svc/scheduler", leaderScript("second"), "--ttl", "3s", "--value", "10.0.0.2:7000")
	poll.Until(t, 10*time.Second, "the second candidate waits", func() bool { return leaderOf(t, bob, "svc/scheduler").Waiting == 1 })
	if exists(filepath.Join(dir, "second")) {
		t.Fatal("the second candidate's command ran while the first led")
	}
	first.cmd.Process.Kill()
	killed := time.Now()
	// The kernel kills its command with it (Pdeathsig).
	poll.Until(t, 5*time.Second, "the killed leader's command ends", func() bool { return !alive(pgid1) })
	first.wait(t, 10*time.Second)
	// What the server last extended the first leadership to, after any
	// renewal that was in flight.
	var lastExpiry time.Time
	poll.Until(t, 10*time.Second, "the first leadership ends", func() bool {
		s := leaderOf(t, bob, "svc/scheduler")
		if s.Term == term1 {
			lastExpiry = s.ExpiresAt
		}
		return s.Term != term1
	})
	poll.Until(t, 10*time.Second, "the second candidate's command runs", func() bool { return exists(filepath.Join(dir, "second")) })
	term2, value, _ := readTerm(t, filepath.Join(dir, "second"))
	s := leaderOf(t, bob, "svc/scheduler")
	t.Logf("second leader %v after the kill; elected %v after the first's expiry", time.Since(killed), s.Since.Sub(lastExpiry))
	if term2 <= term1 || value != "10.0.0.2:7000" || s.Term != term2 || s.Value != "10.0.0.2:7000" || s.Leader != "alice" {
		t.Fatalf("second leadership: term %d (first %d) %q; read %+v", term2, term1, value, s)
	}
	if s.Since.Before(lastExpiry) {
		t.Fatalf("the second leader was elected %v before the first's lease ended", lastExpiry.Sub(s.Since))
	}
	second.cmd.Process.Signal(syscall.SIGTERM)
	if code := second.wait(t, 10*time.Second); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d\n%s", code, second.stderr.String())
	}
	if s := leaderOf(t, bob, "svc/scheduler"); s.Elected {
		t.Fatalf("still led after the second elect exited: %+v", s)
	}
}

// With the server cut off, the leader's command gets SIGTERM before the
// leadership's lease could end on the server.
func TestElect_StopsTheCommandBeforeLeadershipLapses(t *testing.T) {
	srv := apitest.StartServer(t, "")
	proxy := apitest.StartProxy(t, srv.Addr())
	dir := t.TempDir()
	p := startElect(t, "http://"+proxy.Addr, dir, "svc/partitioned", trapScript, "--ttl", "3s", "--grace", "10s")
	poll.Until(t, 10*time.Second, "command started", func() bool { return exists(filepath.Join(dir, "ready")) })
	proxy.BlackHole()
	poll.Until(t, 10*time.Second, "command got SIGTERM", func() bool { return exists(filepath.Join(dir, "term")) })
	c, _ := client.New("http://"+srv.Addr(), apitest.BobToken)
	s := leaderOf(t, c, "svc/partitioned")
	if !s.Elected {
		t.Fatalf("the leadership had ended when the command was told to stop: %+v", s)
	}
	term := readNanos(t, filepath.Join(dir, "term"))
	margin := s.ExpiresAt.Sub(term)
	t.Logf("SIGTERM reached the command %v before the server's expiry of the leadership", margin)
	if margin <= 0 {
		t.Fatalf("SIGTERM %v after the leadership expired", -margin)
	}
	if code := p.wait(t, 10*time.Second); code != exitLeaseLost {
		t.Fatalf("exit %d, want %d\n%s", code, exitLeaseLost, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "leadership lease lost") {
		t.Fatalf("stderr: %s", p.stderr.String())
	}
}

// The command's exit resigns at once; the elect exits with its status,
// and a candidate giving up after --wait exits 73 without running its.
func TestElect_ResignsWhenTheCommandExits(t *testing.T) {
	url, dir := serverAndDir(t)
	bob, _ := client.New(url, apitest.BobToken)
	held, err := bob.Election("jobs/leader").Campaign(t.Context(), client.CampaignOptions{TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	p := startElect(t, url, dir, "jobs/leader", `echo ran > "$DIR/ran"`, "--wait", "1s")
	if code := p.wait(t, 20*time.Second); code != exitLockHeld || exists(filepath.Join(dir, "ran")) {
		t.Fatalf("exit %d, want %d (and the command not run)\n%s", code, exitLockHeld, p.stderr.String())
	}
	if err := held.Resign(t.Context()); err != nil {
		t.Fatal(err)
	}
	p = startElect(t, url, dir, "jobs/leader", `echo "$OCTOSTORE_ELECTION_NAME $OCTOSTORE_TERM" > "$DIR/env"; exit 3`, "--ttl", "5s")
	if code := p.wait(t, 20*time.Second); code != 3 {
		t.Fatalf("exit %d, want the command's 3\n%s", code, p.stderr.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, "env"))
	if f := strings.Fields(string(b)); len(f) != 2 || f[0] != "jobs/leader" || f[1] == "" || f[1] == strconv.FormatUint(held.Term(), 10) {
		t.Fatalf("env: %q", b)
	}
	if s := leaderOf(t, bob, "jobs/leader"); s.Elected {
		t.Fatalf("still led after the command exited: %+v", s)
	}
}

// elect observe prints the leadership now and at each change.
func TestElectObserve_PrintsChanges(t *testing.T) {
	url, dir := serverAndDir(t)
	r, w := io.Pipe()
	p := startCLI(t, url, dir, w, "elect", "observe", "svc/observed", "--json")
	lines := make(chan client.ElectionStatus, 16)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var s client.ElectionStatus
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				t.Errorf("line %q: %v", sc.Text(), err)
			}
			lines <- s
		}
	}()
	t.Cleanup(func() { w.Close() })
	next := func() client.ElectionStatus {
		t.Helper()
		select {
		case s := <-lines:
			return s
		case <-time.After(10 * time.Second):
			t.Fatalf("no line printed\n%s", p.stderr.String())
			return client.ElectionStatus{}
		}
	}
	if s := next(); s.Status != "vacant" || s.Name != "svc/observed" {
		t.Fatalf("first line: %+v", s)
	}
	bob, _ := client.New(url, apitest.BobToken)
	lead, err := bob.Election("svc/observed").Campaign(t.Context(), client.CampaignOptions{TTL: time.Minute, Value: "b:1"})
	if err != nil {
		t.Fatal(err)
	}
	if s := next(); s.Status != "leader" || s.Leader != "bob" || s.Term != lead.Term() || s.Value != "b:1" {
		t.Fatalf("after the campaign: %+v", s)
	}
	if err := lead.Proclaim(t.Context(), "b:2"); err != nil {
		t.Fatal(err)
	}
	if s := next(); s.Value != "b:2" || s.Term != lead.Term() {
		t.Fatalf("after the proclaim: %+v", s)
	}
	if err := lead.Resign(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := next(); s.Status != "vacant" {
		t.Fatalf("after the resignation: %+v", s)
	}
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT\n%s", code, p.stderr.String())
	}
}

// lock hold --limit N runs up to N commands at once; --shared runs
// readers together and keeps a writer out.
func TestLockHold_SemaphoreAndShared(t *testing.T) {
	url, dir := serverAndDir(t)
	for _, tc := range []struct{ name, shape string }{{"ci/runners", "--limit=2"}, {"ci/config", "--shared"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(dir, filepath.Base(tc.name))
			os.Mkdir(dir, 0o755)
			long := startTrapping(t, url, dir, tc.name, tc.shape, "--ttl", "5s")
			p := startHold(t, url, dir, tc.name, `echo ran > "$DIR/ran"`, tc.shape, "--ttl", "5s")
			if code := p.wait(t, 20*time.Second); code != 0 || !exists(filepath.Join(dir, "ran")) {
				t.Fatalf("a second %s hold beside a running one: exit %d\n%s", tc.shape, code, p.stderr.String())
			}
			bob, _ := client.New(url, apitest.BobToken)
			st, err := bob.Get(t.Context(), tc.name, client.GetOptions{})
			if err != nil || len(st.Holders) != 1 {
				t.Fatalf("status while one runs: %+v %v", st, err)
			}
			if tc.shape == "--limit=2" { // fill the second slot: a third hold is refused
				if _, err := bob.Semaphore(tc.name, 2).Hold(t.Context(), client.LeaseOptions{TTL: time.Minute}); err != nil {
					t.Fatal(err)
				}
			}
			excluded := []string{"--limit=2", "--wait", "1s"}
			if tc.shape == "--shared" { // a writer waits for the reader, then gives up
				excluded = []string{"--wait", "1s"}
			}
			p = startHold(t, url, dir, tc.name, `echo ran > "$DIR/excluded"`, excluded...)
			if code := p.wait(t, 20*time.Second); code != exitLockHeld || exists(filepath.Join(dir, "excluded")) {
				t.Fatalf("exit %d, want %d (and the command not run)\n%s", code, exitLockHeld, p.stderr.String())
			}
			long.cmd.Process.Signal(os.Interrupt)
			if code := long.wait(t, 10*time.Second); code != 7 {
				t.Fatalf("exit %d\n%s", code, long.stderr.String())
			}
		})
	}
}

// lock acquire --limit takes semaphore slots; lock status lists every
// holder of a semaphore.
func TestLockCLI_SemaphoreSlots(t *testing.T) {
	url := "http://" + apitest.StartServer(t, "").Addr()
	for range 2 {
		if code, out, errs := cli(t, url, "lock", "acquire", "ci/pool", "--limit", "2", "--ttl", "1m"); code != 0 {
			t.Fatalf("acquire: %d %s %s", code, out, errs)
		}
	}
	if code, _, errs := cli(t, url, "lock", "acquire", "ci/pool", "--limit", "3"); code != exitFailure || !strings.Contains(errs, "limit_mismatch") {
		t.Fatalf("another limit: %d %s", code, errs)
	}
	if code, _, errs := cli(t, url, "lock", "acquire", "ci/pool", "--limit", "2"); code != exitLockHeld {
		t.Fatalf("a third slot: %d %s", code, errs)
	}
	code, out, _ := cli(t, url, "lock", "status", "ci/pool")
	if code != 0 || !strings.Contains(out, "LIMIT") || strings.Count(out, "ci/pool") != 2 {
		t.Fatalf("status:\n%s", out)
	}
	if code, _, errs := cli(t, url, "lock", "acquire", "ci/x", "--shared", "--limit", "2"); code == 0 || !strings.Contains(errs, "--shared") {
		t.Fatalf("--shared --limit 2: %d %s", code, errs)
	}
}
