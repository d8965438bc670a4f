package main

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

// binary is the octostore executable built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "octostore-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "octostore")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build octostore: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `octostore serve` process.
type proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	addr   string // http://host:port
	raft   string // host:port of its Raft transport, when clustered
	mu     sync.Mutex
	stderr strings.Builder
	exited chan error
}

// startServe runs the binary with JSON logs on an ephemeral port, waits
// until it logs that it is serving, and kills it when the test ends.
func startServe(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	p := &proc{t: t, cmd: exec.Command(binary, args...), exited: make(chan error, 1)}
	p.cmd.Env = append(cleanEnv(), env...)
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	serving := make(chan [2]string, 1)
	go p.readLog(pipe, serving)
	select {
	case addrs := <-serving:
		p.addr, p.raft = addrs[0], addrs[1]
	case err := <-p.exited:
		t.Fatalf("octostore exited before serving: %v\n%s", err, p.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("octostore did not start serving\n%s", p.log())
	}
	return p
}

// cleanEnv is the test's environment without OCTOSTORE_ settings, so a
// developer's shell cannot change what the test runs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCTOSTORE_") {
			env = append(env, kv)
		}
	}
	return env
}

func (p *proc) readLog(r io.Reader, serving chan<- [2]string) {
	sc := bufio.NewScanner(r)
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

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
}

// wait returns the process's exit error once it has exited.
func (p *proc) wait() error {
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatalf("octostore did not exit\n%s", p.log())
		return nil
	}
}
