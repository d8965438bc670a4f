package server_test

import (
	"testing"

	"github.com/octostore/octostore/internal/cluster"
)

// clusterConfig is how test node n proves itself to its peers: the
// cluster key unless a test swaps in another way.
var clusterConfig = func(_ *testing.T, n *testNode) cluster.Config {
	return cluster.Config{RaftAddr: n.raftAddr, ClusterKey: []byte(clusterKey)}
}
