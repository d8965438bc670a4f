package server_test

import (
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/chaos"
	"github.com/octostore/octostore/internal/poll"
)

type readyBody struct {
	Status, Role, Code, Details string
}

func ready(t *testing.T, n *testNode) (int, readyBody) {
	t.Helper()
	r := n.c.Get("/ready", "", nil)
	var b readyBody
	r.JSON(t, &b)
	return r.Status, b
}

// /ready is 200 on every node of a healthy cluster, goes 503 on a follower
// cut off from the leader (while /health stays 200), and comes back when
// the partition heals.
func TestReady_PartitionedFollowerIsNotReady(t *testing.T) {
	c := newCluster(t, 2)
	proxy, err := chaos.NewProxy()
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	// The third node is reached by its peers only through the proxy.
	ln, err := net.Listen("tcp", "127.0.0.3:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().String()
	ln.Close()
	victim := &testNode{id: "n3", dir: t.TempDir(), listen: "127.0.0.1:0", raftAddr: port, raftAdvertise: proxy.Addr()}
	proxy.SetTarget(port)
	c.start(victim, []string{c.nodes[0].raftAddr})
	c.nodes = append(c.nodes, victim)
	c.waitMembers(3)
	leader := c.Leader()
	for _, n := range c.nodes {
		poll.Until(t, 10*time.Second, n.id+" ready", func() bool { s, _ := ready(t, n); return s == http.StatusOK })
	}
	if _, b := ready(t, leader); b.Role != "leader" || b.Status != "ready" {
		t.Fatalf("leader's /ready: %+v", b)
	}

	proxy.Block(leader.ip(), true)
	var b readyBody
	poll.Until(t, 10*time.Second, "the partitioned follower to be not ready", func() bool {
		var s int
		s, b = ready(t, victim)
		return s == http.StatusServiceUnavailable
	})
	if b.Code != "not_ready" || b.Details == "" {
		t.Fatalf("not-ready body: %+v", b)
	}
	if r := victim.c.Get("/health", "", nil); r.Status != http.StatusOK {
		t.Fatalf("/health of the partitioned node: %d", r.Status)
	}
	if s, _ := ready(t, leader); s != http.StatusOK {
		t.Fatalf("the leader's /ready during the partition: %d", s)
	}

	proxy.Block(leader.ip(), false)
	poll.Until(t, 15*time.Second, "the healed follower to be ready", func() bool { s, _ := ready(t, victim); return s == http.StatusOK })
}
