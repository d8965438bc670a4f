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
	fs.StringVar(&c.httpAdvertise, "http-advertise", "", "the base URL clients reach this node at, shown in the cluster status; default http://<listen>")
	fs.StringVar(&c.join, "join", "", "comma list of members' Raft addresses to join through (e.g. 10.0.0.1:7001), tried in turn")
	fs.StringVar(&c.key, "cluster-key", "", "shared secret every node of the cluster holds, from which node certificates are made (prefer the file or env var)")
	fs.StringVar(&c.keyFile, "cluster-key-file", "", "file holding the cluster key")
	fs.StringVar(&c.tlsCert, "raft-tls-cert", "", "PEM certificate of this node from your cluster CA; its Common Name is the node ID")
	fs.StringVar(&c.tlsKey, "raft-tls-key", "", "PEM private key of this node")
	fs.StringVar(&c.tlsCA, "raft-tls-ca", "", "PEM CA that signs every node's certificate")
	return c
}

// apply fills cfg's clustering settings. A node that listens for other
// nodes must prove who it is and check who they are: a cluster key or
// certificates from the operator's CA.
func (c *clusterFlags) apply(cfg *server.Config) error {
	join, err := joinAddrs(c.join)
	if err != nil {
		return err
	}
	cfg.JoinAddrs = join
	cfg.HTTPAdvertise = c.httpAdvertise
	if c.raftAddr == "" {
		if len(join) > 0 || c.key != "" || c.keyFile != "" || c.tlsCert != "" {
			return errors.New("--join, --cluster-key and --raft-tls-* need --raft-addr")
		}
		return nil
	}
	cfg.Cluster.RaftAddr, cfg.Cluster.RaftAdvertise = c.raftAddr, c.raftAdvertise
	if err := c.loadAuth(&cfg.Cluster); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(c.raftAddr); c.raftAdvertise == "" && (err != nil || unspecified(host)) {
		return fmt.Errorf("--raft-addr %s is not an address other nodes can use: set --raft-advertise", c.raftAddr)
	}
	return nil
}

// joinAddrs parses --join: members' Raft addresses. The old form, HTTP
// URLs, is refused by name: joining no longer goes over the client API.
func joinAddrs(list string) ([]string, error) {
	addrs := commaList(list)
	for _, a := range addrs {
		if strings.Contains(a, "://") {
			return nil, fmt.Errorf("--join %s: give a member's Raft address (host:port, its --raft-addr), not a URL: nodes join over the authenticated node channel, not the HTTP API", a)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("--join %s: want a member's Raft address as host:port: %w", a, err)
		}
	}
	return addrs, nil
}

func (c *clusterFlags) loadAuth(cc *cluster.Config) error {
	key, err := secretFrom(c.key, c.keyFile, "--cluster-key")
	if err != nil {
		return err
	}
	cc.ClusterKey = []byte(key)
	if c.tlsCert != "" || c.tlsKey != "" || c.tlsCA != "" {
		if c.tlsCert == "" || c.tlsKey == "" || c.tlsCA == "" {
			return errors.New("--raft-tls-cert, --raft-tls-key and --raft-tls-ca go together")
		}
		cc.Certs = &cluster.NodeCerts{CertFile: c.tlsCert, KeyFile: c.tlsKey, CAFile: c.tlsCA}
	}
	switch {
	case key != "" && cc.Certs != nil:
		return errors.New("give --cluster-key (or --cluster-key-file) or --raft-tls-cert/key/ca, not both")
	case key == "" && cc.Certs == nil:
		return errors.New("a clustered node must prove who it is to its peers: set --cluster-key (or --cluster-key-file) or --raft-tls-cert/key/ca")
	case key != "" && len(key) < cluster.MinClusterKeyLen:
		return fmt.Errorf("the cluster key is %d bytes; it must be at least %d (e.g. openssl rand -hex 32)", len(key), cluster.MinClusterKeyLen)
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
