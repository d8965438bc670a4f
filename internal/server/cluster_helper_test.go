package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
)

const clusterKey = "test-cluster-key-0123456789"

// testCluster is a cluster of in-process nodes on loopback listeners and
// temp dirs, in the style of rqlite's system tests.
type testCluster struct {
	t     *testing.T
	nodes []*testNode
}

type testNode struct {
	id, dir, listen, raftAddr string
	raftAdvertise             string // when peers must dial through a proxy
	srv                       *server.Server
	c                         *apitest.Client
}

func (n *testNode) url() string { return "http://" + n.listen }

// newCluster starts n nodes: the first founds the cluster, the others
// join through it. It returns once every node sees all n as members.
// Node i binds its Raft port on loopback IP 127.0.0.i (and dials its
// peers from it), so a proxy can tell the nodes apart.
func newCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	c := &testCluster{t: t}
	for i := range n {
		node := &testNode{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), listen: "127.0.0.1:0",
			raftAddr: fmt.Sprintf("127.0.0.%d:0", i+1)}
		var join []string
		if i > 0 {
			join = []string{c.nodes[0].raftAddr}
		}
		c.start(node, join)
		c.nodes = append(c.nodes, node)
	}
	c.waitMembers(n)
	return c
}

func (c *testCluster) start(n *testNode, join []string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc := clusterConfig(c.t, n)
	cc.RaftAdvertise = n.raftAdvertise
	srv, err := server.Start(ctx, server.Config{
		Listen: n.listen, DataDir: n.dir, NodeID: n.id, Skew: apitest.TestSkew,
		Tokens:     "alice:" + apitest.AliceToken + ",bob:" + apitest.BobToken,
		AdminUsers: []string{"alice"}, JoinAddrs: join,
		Cluster: cc,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		c.t.Fatalf("start %s: %v", n.id, err)
	}
	n.srv = srv
	n.listen = srv.Addr()              // keep the port across restarts
	n.raftAddr = srv.Node().RaftAddr() // likewise
	n.c = apitest.New(c.t, n.url())
	c.t.Cleanup(func() { n.stop() })
}

func (n *testNode) stop() {
	if n.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
	n.srv = nil
}

// restart brings a stopped node back on its data dir and addresses.
func (c *testCluster) restart(n *testNode) {
	c.t.Helper()
	var join []string
	if n != c.nodes[0] {
		join = []string{c.nodes[0].raftAddr}
	}
	c.start(n, join)
}

// Leader waits for, and returns, the running node that leads.
func (c *testCluster) Leader() *testNode {
	c.t.Helper()
	var leader *testNode
	poll.Until(c.t, 10*time.Second, "a leader", func() bool {
		leader = nil
		for _, n := range c.nodes {
			if n.srv != nil && n.srv.Node().IsReady() {
				leader = n
			}
		}
		return leader != nil
	})
	return leader
}

// Followers are the running nodes that do not lead.
func (c *testCluster) Followers() []*testNode {
	leader := c.Leader()
	var out []*testNode
	for _, n := range c.nodes {
		if n != leader && n.srv != nil {
			out = append(out, n)
		}
	}
	return out
}

// WaitForNewLeader waits until a node other than old leads.
func (c *testCluster) WaitForNewLeader(old *testNode) *testNode {
	c.t.Helper()
	var leader *testNode
	poll.Until(c.t, 10*time.Second, "a new leader", func() bool {
		leader = c.Leader()
		return leader != old
	})
	return leader
}

// waitMembers waits until every running node lists n voters, each with
// its HTTP address, and knows the leader.
func (c *testCluster) waitMembers(n int) {
	c.t.Helper()
	poll.Until(c.t, 15*time.Second, fmt.Sprintf("%d members everywhere", n), func() bool {
		for _, node := range c.nodes {
			if node.srv == nil {
				continue
			}
			st := node.srv.Node().Status()
			if len(st.Members) != n || st.Leader == "" {
				return false
			}
			for _, m := range st.Members {
				if m.HTTPAddr == "" {
					return false
				}
			}
		}
		return true
	})
}

type lockResp struct {
	Status       string    `json:"status"`
	Name         string    `json:"name"`
	LeaseID      string    `json:"lease_id"`
	FencingToken uint64    `json:"fencing_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	Holder       string    `json:"holder"`
}

func acquire(t *testing.T, c *apitest.Client, name, token string, ttl int) (int, lockResp) {
	t.Helper()
	r := c.Do("POST", "/locks/"+name+"/acquire", token, map[string]any{"ttl_seconds": ttl})
	var l lockResp
	if r.Status == http.StatusOK {
		r.JSON(t, &l)
	}
	return r.Status, l
}

func getLock(t *testing.T, c *apitest.Client, name, query string) lockResp {
	t.Helper()
	var l lockResp
	c.Do("GET", "/locks/"+name+query, apitest.AliceToken, nil).JSON(t, &l)
	return l
}

// ip is the loopback IP node n binds and dials its peers from.
func (n *testNode) ip() string {
	host, _, _ := net.SplitHostPort(n.raftAddr)
	return host
}
