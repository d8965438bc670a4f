package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/cluster"
)

// writeNodePKI writes a CA and one node certificate (for both client and
// server use) as PEM files, returning their paths.
func writeNodePKI(t *testing.T) (certFile, keyFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "octostore test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	nodeKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nodeTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	nodeDER, err := x509.CreateCertificate(rand.Reader, nodeTmpl, caCert, &nodeKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(nodeKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
		return p
	}
	return write("node.pem", "CERTIFICATE", nodeDER), write("node-key.pem", "EC PRIVATE KEY", keyDER), write("ca.pem", "CERTIFICATE", caDER)
}

// TestCluster_MutualTLS forms a cluster whose nodes authenticate each other
// by certificate alone, no cluster key.
func TestCluster_MutualTLS(t *testing.T) {
	certFile, keyFile, caFile := writeNodePKI(t)
	tlsConfig, err := cluster.LoadNodeTLS(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	saved := clusterConfig
	clusterConfig = func(raftAddr string) cluster.Config { return cluster.Config{RaftAddr: raftAddr, TLS: tlsConfig} }
	defer func() { clusterConfig = saved }()
	c := newCluster(t, 2)
	f := c.Followers()[0]
	if status, _ := acquire(t, f.c, "tls/lock", alice, 30); status != 200 {
		t.Fatalf("acquire through a follower over mutual TLS: %d", status)
	}
}
