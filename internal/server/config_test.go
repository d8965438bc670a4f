package server_test

import "github.com/octostore/octostore/internal/cluster"

func clusterConfig(raftAddr string) cluster.Config {
	return cluster.Config{RaftAddr: raftAddr, ClusterKey: []byte(clusterKey)}
}
