package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/proctest"
)

const numClients = 5

// chaosCluster is three real processes, each behind a Raft proxy.
type chaosCluster struct {
	t     *testing.T
	mu    sync.Mutex
	nodes []*chaosNode
	// isolated runs the nodes in isolated tenancy (startIsolatedCluster).
	isolated bool
	env      []string // the nodes' environment
}

type chaosNode struct {
	id, dir, raftAddr, listen string
	ip                        string // the loopback IP it binds and dials from, so proxies tell nodes apart
	proxy                     *Proxy
	proc                      *proctest.Proc // nil while down
	paused                    bool
}

func tokenOf(client int) string { return fmt.Sprintf("chaos-token-%d-0123456789", client) }

func clusterEnv() []string {
	var users []string
	for i := range numClients {
		users = append(users, fmt.Sprintf("u%d:%s", i, tokenOf(i)))
	}
	return []string{"OCTOSTORE_TOKENS=" + strings.Join(users, ","), "OCTOSTORE_CLUSTER_KEY=chaos-cluster-key-0123456789"}
}

func startCluster(t *testing.T) *chaosCluster {
	return startClusterWith(&chaosCluster{t: t, env: clusterEnv()})
}

func startClusterWith(cl *chaosCluster) *chaosCluster {
	t := cl.t
	for i := range 3 {
		p, err := NewProxy()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		ip := fmt.Sprintf("127.0.0.%d", i+2)
		n := &chaosNode{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), ip: ip, raftAddr: freePort(t, ip), listen: "127.0.0.1:0", proxy: p}
		p.SetTarget(n.raftAddr)
		cl.nodes = append(cl.nodes, n)
		cl.start(n)
	}
	cl.waitLeader()
	return cl
}

// freePort reserves a port on the loopback IP ip for a node's Raft
// listener, so the node can come back on it after being killed.
func freePort(t *testing.T, ip string) string {
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (cl *chaosCluster) start(n *chaosNode) {
	args := []string{"--node-id", n.id, "--data-dir", n.dir, "--listen", n.listen,
		"--raft-addr", n.raftAddr, "--raft-advertise", n.proxy.Addr()}
	if n != cl.nodes[0] {
		args = append(args, "--join", cl.nodes[0].proxy.Addr())
	}
	p := proctest.Start(cl.t, binary, cl.env, args...)
	cl.mu.Lock()
	n.proc, n.paused = p, false
	n.listen = strings.TrimPrefix(p.Addr, "http://")
	cl.mu.Unlock()
}

func (n *chaosNode) httpURL() string { return "http://" + n.listen }

// up returns the base URLs of the nodes that are running (paused ones
// included: a client cannot tell).
func (cl *chaosCluster) up() []string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	var urls []string
	for _, n := range cl.nodes {
		if n.proc != nil {
			urls = append(urls, n.httpURL())
		}
	}
	return urls
}

func (cl *chaosCluster) kill(n *chaosNode) {
	n.proc.Kill()
	cl.mu.Lock()
	n.proc, n.paused = nil, false
	cl.mu.Unlock()
}

func (cl *chaosCluster) pause(n *chaosNode, paused bool) {
	sig := syscall.SIGCONT
	if paused {
		sig = syscall.SIGSTOP
	}
	n.proc.Signal(sig)
	n.paused = paused
}

// isolate cuts every Raft link to and from n (or heals them).
func (cl *chaosCluster) isolate(n *chaosNode, cut bool) {
	for _, other := range cl.nodes {
		if other != n {
			n.proxy.Block(other.ip, cut)
			other.proxy.Block(n.ip, cut)
		}
	}
}

func (cl *chaosCluster) delayAll(d time.Duration) {
	for _, n := range cl.nodes {
		n.proxy.SetDelay(d)
	}
}

// healAll ends every fault: links restored, no delay, every node running.
func (cl *chaosCluster) healAll() {
	cl.delayAll(0)
	for _, n := range cl.nodes {
		cl.isolate(n, false)
		if n.proc != nil && n.paused {
			cl.pause(n, false)
		}
		if n.proc == nil {
			cl.start(n)
		}
	}
}

// leaderNode asks the running nodes who leads; nil when none knows.
func (cl *chaosCluster) leaderNode() *chaosNode {
	for _, url := range cl.up() {
		var st struct{ Leader string }
		if getJSON(url+"/cluster", tokenOf(0), &st) == nil && st.Leader != "" {
			for _, n := range cl.nodes {
				if n.id == st.Leader && n.proc != nil {
					return n
				}
			}
		}
	}
	return nil
}

func (cl *chaosCluster) waitLeader() *chaosNode {
	var leader *chaosNode
	poll.Until(cl.t, 30*time.Second, "a leader", func() bool { leader = cl.leaderNode(); return leader != nil })
	return leader
}

func getJSON(url, token string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
