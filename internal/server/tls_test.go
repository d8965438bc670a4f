package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/cluster"
)

// testNodeCA is an operator's CA that issues node certificates.
type testNodeCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	caFile string
}

func newTestNodeCA(t *testing.T) *testNodeCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "octostore test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testNodeCA{cert: cert, key: key, caFile: writePEM(t, t.TempDir(), "ca.pem", "CERTIFICATE", der)}
}

// issue writes a certificate naming node id (for both client and server
// use) and its key.
func (ca *testNodeCA) issue(t *testing.T, id string) cluster.NodeCerts {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: id},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	return cluster.NodeCerts{CertFile: writePEM(t, dir, "node.pem", "CERTIFICATE", der),
		KeyFile: writePEM(t, dir, "node-key.pem", "EC PRIVATE KEY", keyDER), CAFile: ca.caFile}
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCluster_OperatorCA forms a cluster whose nodes prove themselves with
// certificates from the operator's CA, no cluster key.
func TestCluster_OperatorCA(t *testing.T) {
	ca := newTestNodeCA(t)
	saved := clusterConfig
	clusterConfig = func(t *testing.T, n *testNode) cluster.Config {
		certs := ca.issue(t, n.id)
		return cluster.Config{RaftAddr: n.raftAddr, Certs: &certs}
	}
	defer func() { clusterConfig = saved }()
	c := newCluster(t, 2)
	f := c.Followers()[0]
	if status, _ := acquire(t, f.c, "tls/lock", alice, 30); status != 200 {
		t.Fatalf("acquire through a follower over the operator's CA: %d", status)
	}
}
