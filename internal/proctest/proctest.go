package proctest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// build compiles the octostore command into a temporary directory and
// returns the binary's path and a cleanup function.
func build() (string, func(), error) {
	dir, err := os.MkdirTemp("", "octostore-bin")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "octostore")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/octostore/octostore/cmd/octostore").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build octostore: %v\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Main is a TestMain body for packages that run the binary: it builds it
// into *bin, runs the tests and removes it again, returning the exit code.
func Main(m *testing.M, bin *string) int {
	path, cleanup, err := build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cleanup()
	*bin = path
	return m.Run()
}

// Proc is a running `octostore serve`.
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	Addr   string // http://host:port
	Raft   string // host:port of its Raft listener, when clustered
	mu     sync.Mutex
	stderr strings.Builder
	exited chan error
}

// Start runs `bin serve` with JSON logs on an ephemeral port (unless args
// set --listen), waits until it logs that it is serving, and kills it when
// the test ends. env is added to an environment without OCTOSTORE_
// settings, so a developer's shell cannot change what a test runs.
func Start(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	p := &Proc{t: t, cmd: exec.Command(bin, args...), exited: make(chan error, 1)}
	p.cmd.Env = append(CleanEnv(), env...)
	dieWithParent(p.cmd)
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	serving := make(chan [2]string, 1)
	go p.readLog(pipe, serving)
	select {
	case addrs := <-serving:
		p.Addr, p.Raft = addrs[0], addrs[1]
	case err := <-p.exited:
		t.Fatalf("octostore exited before serving: %v\n%s", err, p.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("octostore did not start serving\n%s", p.Log())
	}
	return p
}

// CleanEnv is this process's environment without OCTOSTORE_* variables,
// so a developer's settings never leak into a binary under test.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCTOSTORE_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *Proc) readLog(r io.Reader, serving chan<- [2]string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.stderr.WriteString(line + "\n")
		p.mu.Unlock()
		var entry struct {
			Msg, Addr string
			Raft      string `json:"raft_addr"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "octostore serving" {
			serving <- [2]string{entry.Addr, entry.Raft}
		}
	}
	p.exited <- p.cmd.Wait()
}

// Log is everything the process wrote to stderr so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// RSS is the process's resident memory in bytes, from /proc.
func (p *Proc) RSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var n int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), &n)
			return n << 10
		}
	}
	return 0
}

// Signal sends sig to the process (SIGTERM, SIGSTOP, SIGCONT...).
func (p *Proc) Signal(sig syscall.Signal) { p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL (after SIGCONT, in case it is paused) and waits for
// the process to be gone.
func (p *Proc) Kill() {
	p.cmd.Process.Signal(syscall.SIGCONT)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.Wait()
}

// Wait returns the process's exit error once it has exited.
func (p *Proc) Wait() error {
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatalf("octostore did not exit\n%s", p.Log())
		return nil
	}
}
