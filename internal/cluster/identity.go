package cluster

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"sync"
	"time"
)

// A node's identity is a TLS certificate whose Subject Common Name is its
// node ID, chaining to the cluster CA that every member trusts. It comes
// from one of two places: an operator's CA (NodeCerts), or the cluster key,
// from which every node derives the same CA key and issues itself a
// short-lived leaf certificate at start. Either way every connection
// between nodes is TLS 1.3 with certificates on both sides, so the traffic
// is encrypted and bound to the nodes at its ends: no relay can read it,
// change it or speak in it.

const (
	// MinClusterKeyLen is the shortest cluster key accepted: the CA key is
	// derived from it, so it must be too long to guess.
	MinClusterKeyLen = 16
	// MaxNodeIDLen is the longest node ID of a clustered node: an X.509
	// Common Name holds at most 64 characters.
	MaxNodeIDLen = 64

	caLabel = "octostore cluster CA ed25519 v1"
	// leafLifetime is how long a key-derived leaf certificate is valid;
	// it is reissued when less than half remains, so a running node never
	// presents an expired one and a stolen leaf key is useless a day later.
	leafLifetime = 24 * time.Hour
	// leafBackdate tolerates peers whose clocks run a little behind.
	leafBackdate = 5 * time.Minute
)

var (
	// ErrNoNodeAuth means neither a cluster key nor node certificates were
	// configured: nodes would have no way to prove who they are.
	ErrNoNodeAuth = errors.New("a clustered node needs a cluster key or node certificates")
	// ErrBothNodeAuth means both were configured; one must be chosen.
	ErrBothNodeAuth = errors.New("give a cluster key or node certificates, not both")

	// nodeIDPattern keeps IDs printable, usable as a Common Name and free
	// of the separator that peerTarget puts between an ID and an address.
	nodeIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// NodeCerts names the PEM files of an operator's CA: this node's
// certificate (its Common Name is the node ID; it must allow both server
// and client authentication) and key, and the CA certificate that signs
// every member's.
type NodeCerts struct{ CertFile, KeyFile, CAFile string }

// identity proves this node to its peers and checks theirs.
type identity struct {
	nodeID string
	pool   *x509.CertPool // the cluster CA: the only trusted root

	mu    sync.Mutex
	leaf  *tls.Certificate
	renew func() (*tls.Certificate, error) // nil: the leaf never changes
}

// ValidNodeID reports whether id can name a clustered node.
func ValidNodeID(id string) bool { return nodeIDPattern.MatchString(id) }

// keyIdentity derives the cluster CA from key and issues a leaf for nodeID.
func keyIdentity(key []byte, nodeID string) (*identity, error) {
	if len(key) < MinClusterKeyLen {
		return nil, fmt.Errorf("cluster key is %d bytes; it must be at least %d", len(key), MinClusterKeyLen)
	}
	caCert, caKey, err := deriveCA(key)
	if err != nil {
		return nil, err
	}
	id := &identity{nodeID: nodeID, pool: x509.NewCertPool()}
	id.pool.AddCert(caCert)
	id.renew = func() (*tls.Certificate, error) { return issueLeaf(caCert, caKey, nodeID) }
	if id.leaf, err = id.renew(); err != nil {
		return nil, err
	}
	return id, nil
}

// deriveCA makes the cluster CA from the key alone. Every input is fixed
// and Ed25519 signatures are deterministic, so every node derives the
// same certificate byte for byte.
func deriveCA(key []byte) (*x509.Certificate, ed25519.PrivateKey, error) {
	seed, err := hkdf.Key(sha256.New, key, nil, caLabel, ed25519.SeedSize)
	if err != nil {
		return nil, nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "OctoStore cluster CA"},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, nil, fmt.Errorf("derive cluster CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return cert, priv, err
}

// issueLeaf signs a fresh key pair for nodeID with the cluster CA.
func issueLeaf(ca *x509.Certificate, caKey ed25519.PrivateKey, nodeID string) (*tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID},
		NotBefore:    now.Add(-leafBackdate),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("issue node certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// fileIdentity loads an operator's node certificate and CA. The
// certificate must name nodeID, or, when nodeID is empty, names it.
func fileIdentity(files NodeCerts, nodeID string) (*identity, error) {
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load node certificate: %w", err)
	}
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("cluster CA %s holds no PEM certificate", files.CAFile)
	}
	named := cert.Leaf.Subject.CommonName
	if nodeID != "" && named != nodeID {
		return nil, fmt.Errorf("node certificate %s names node %q, but this node's ID is %q", files.CertFile, named, nodeID)
	}
	if !ValidNodeID(named) {
		return nil, fmt.Errorf("node certificate %s: its Common Name %q is not a node ID (1 to %d of A-Z a-z 0-9 . _ -)", files.CertFile, named, MaxNodeIDLen)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("node certificate %s is not valid under the cluster CA for both server and client use: %w", files.CertFile, err)
	}
	return &identity{nodeID: named, pool: pool, leaf: &cert}, nil
}

// certNodeID is the node ID an operator's certificate names, so that a
// node given certificates needs no separate --node-id.
func certNodeID(files NodeCerts) (string, error) {
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		return "", fmt.Errorf("load node certificate: %w", err)
	}
	return cert.Leaf.Subject.CommonName, nil
}

// certificate returns the current leaf, issuing a new one when less than
// half of its lifetime remains.
func (id *identity) certificate() (*tls.Certificate, error) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.renew != nil && time.Until(id.leaf.Leaf.NotAfter) < leafLifetime/2 {
		leaf, err := id.renew()
		if err != nil {
			return nil, err
		}
		id.leaf = leaf
	}
	return id.leaf, nil
}

// peerID checks that the peer's certificate chains to the cluster CA for
// usage and returns the node ID it names.
func (id *identity) peerID(cs tls.ConnectionState, usage x509.ExtKeyUsage) (string, error) {
	if len(cs.PeerCertificates) == 0 {
		return "", errors.New("peer presented no certificate")
	}
	opts := x509.VerifyOptions{Roots: id.pool, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{usage}}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(opts); err != nil {
		return "", fmt.Errorf("peer certificate: %w", err)
	}
	if !ValidNodeID(leaf.Subject.CommonName) {
		return "", errors.New("peer certificate names no valid node ID")
	}
	return leaf.Subject.CommonName, nil
}

// serverConfig accepts only peers with a certificate from the cluster CA,
// for any of protos.
func (id *identity) serverConfig(protos []string) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return id.certificate() },
		// The chain is checked in VerifyConnection, against the cluster CA
		// alone; RequireAnyClientCert makes a peer without one fail the
		// handshake.
		ClientAuth: tls.RequireAnyClientCert,
		NextProtos: protos,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := id.peerID(cs, x509.ExtKeyUsageClientAuth)
			return err
		},
	}
}

// clientConfig dials for proto and accepts only a peer whose certificate
// chains to the cluster CA and, unless want is empty, names node want.
func (id *identity) clientConfig(proto, want string) *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return id.certificate() },
		NextProtos:           []string{proto},
		// Peers are dialled by address and their certificates name node
		// IDs in the Common Name (the documented operator scheme), not
		// hosts in SANs, so Go's built-in check cannot apply. It is
		// replaced, not dropped: VerifyConnection below verifies the chain
		// against the cluster CA alone, the usage and the node ID on every
		// handshake, resumed ones included (TestIdentity_DialerVerifiesThePeer).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			got, err := id.peerID(cs, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if want != "" && got != want {
				return fmt.Errorf("peer is node %q, not %q", got, want)
			}
			if cs.NegotiatedProtocol != proto {
				return fmt.Errorf("peer does not speak %s", proto)
			}
			return nil
		},
	}
}
