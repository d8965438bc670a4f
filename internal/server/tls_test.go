package server_test

import (
	"testing"

	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/testpki"
)

// TestCluster_OperatorCA forms a cluster whose nodes prove themselves with
// certificates from the operator's CA, no cluster key.
func TestCluster_OperatorCA(t *testing.T) {
	ca := testpki.NewCA(t, "octostore test CA")
	saved := clusterConfig
	clusterConfig = func(t *testing.T, n *testNode) cluster.Config {
		cert, key, caFile := ca.WriteNode(t, n.id)
		return cluster.Config{RaftAddr: n.raftAddr, Certs: &cluster.NodeCerts{CertFile: cert, KeyFile: key, CAFile: caFile}}
	}
	defer func() { clusterConfig = saved }()
	c := newCluster(t, 2)
	f := c.Followers()[0]
	if status, _ := acquire(t, f.c, "tls/lock", alice, 30); status != 200 {
		t.Fatalf("acquire through a follower over the operator's CA: %d", status)
	}
}
