package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/server"
)

// clusterFlags are serve's settings for running as one node of several.
type clusterFlags struct {
	raftAddr, raftAdvertise, httpAdvertise, join string
	key, keyFile, tlsCert, tlsKey, tlsCA         string
}

func addClusterFlags(fs *flag.FlagSet) *clusterFlags {
	c := &clusterFlags{}
	fs.StringVar(&c.raftAddr, "raft-addr", "", "listen for other nodes here (e.g. 127.0.0.1:7001); empty: a single node")
	fs.StringVar(&c.raftAdvertise, "raft-advertise", "", "the Raft address other nodes dial (NAT, containers); default --raft-addr")
	fs.StringVar(&c.httpAdvertise, "http-advertise", "", "the base URL other nodes forward to; default http://<listen>")
	fs.StringVar(&c.join, "join", "", "comma list of members' base URLs to join (e.g. http://10.0.0.1:3000)")
	fs.StringVar(&c.key, "cluster-key", "", "shared secret every node of the cluster holds (prefer the file or env var)")
	fs.StringVar(&c.keyFile, "cluster-key-file", "", "file holding the cluster key")
	fs.StringVar(&c.tlsCert, "raft-tls-cert", "", "PEM certificate of this node, for mutual TLS between nodes")
	fs.StringVar(&c.tlsKey, "raft-tls-key", "", "PEM private key of this node")
	fs.StringVar(&c.tlsCA, "raft-tls-ca", "", "PEM CA that signs every node's certificate")
	return c
}

// apply fills cfg's clustering settings. A node that listens for other
// nodes must authenticate them: a cluster key, mutual TLS, or both.
func (c *clusterFlags) apply(cfg *server.Config) error {
	cfg.JoinURLs = commaList(c.join)
	cfg.HTTPAdvertise = c.httpAdvertise
	if c.raftAddr == "" {
		if len(cfg.JoinURLs) > 0 || c.key != "" || c.keyFile != "" || c.tlsCert != "" {
			return errors.New("--join, --cluster-key and --raft-tls-* need --raft-addr")
		}
		return nil
	}
	cfg.Cluster.RaftAddr, cfg.Cluster.RaftAdvertise = c.raftAddr, c.raftAdvertise
	if err := c.loadAuth(&cfg.Cluster); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(cfg.Listen); c.httpAdvertise == "" && (err != nil || unspecified(host)) {
		return fmt.Errorf("--listen %s is not an address other nodes can use: set --http-advertise", cfg.Listen)
	}
	if host, _, err := net.SplitHostPort(c.raftAddr); c.raftAdvertise == "" && (err != nil || unspecified(host)) {
		return fmt.Errorf("--raft-addr %s is not an address other nodes can use: set --raft-advertise", c.raftAddr)
	}
	return nil
}

func (c *clusterFlags) loadAuth(cc *cluster.Config) error {
	key, err := secretFrom(c.key, c.keyFile, "--cluster-key")
	if err != nil {
		return err
	}
	cc.ClusterKey = []byte(key)
	if c.tlsCert != "" || c.tlsKey != "" || c.tlsCA != "" {
		if cc.TLS, err = cluster.LoadNodeTLS(c.tlsCert, c.tlsKey, c.tlsCA); err != nil {
			return fmt.Errorf("--raft-tls-*: %w", err)
		}
	}
	if key == "" && cc.TLS == nil {
		return errors.New("a clustered node must authenticate its peers: set --cluster-key (or --cluster-key-file) or --raft-tls-cert/key/ca")
	}
	return nil
}

func unspecified(host string) bool { return host == "" || host == "0.0.0.0" || host == "::" }

// secretFrom reads a secret given inline or in a file, not both.
func secretFrom(inline, file, name string) (string, error) {
	if inline != "" && file != "" {
		return "", fmt.Errorf("give %s or %s-file, not both", name, name)
	}
	if file == "" {
		return inline, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s-file: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}
