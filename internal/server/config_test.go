package server_test

import "github.com/octostore/octostore/internal/cluster"

// clusterConfig is how test nodes authenticate each other: the cluster key
// unless a test swaps in another way.
var clusterConfig = func(raftAddr string) cluster.Config {
	return cluster.Config{RaftAddr: raftAddr, ClusterKey: []byte(clusterKey)}
}
