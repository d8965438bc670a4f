package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

func exportKeyingMaterial(tc *tls.Conn) ([]byte, error) {
	cs := tc.ConnectionState()
	ekm, err := cs.ExportKeyingMaterial(ekmLabel, nil, 32)
	if err != nil {
		return nil, fmt.Errorf("%w: tls keying material: %w", ErrHandshake, err)
	}
	return ekm, nil
}

// nodeTLSConfigs derives the listener's and the dialer's configs from the
// node's mutual-TLS config.
func nodeTLSConfigs(base *tls.Config) (server, client *tls.Config) {
	pool := base.RootCAs
	if pool == nil {
		pool = base.ClientCAs
	}
	clientCAs := base.ClientCAs
	if clientCAs == nil {
		clientCAs = pool
	}

	server = base.Clone()
	server.ClientAuth = tls.RequireAndVerifyClientCert
	server.ClientCAs = clientCAs
	// Only OctoStore nodes connect: no reason to speak anything older,
	// and TLS 1.3 makes the keying-material export always safe.
	server.MinVersion = tls.VersionTLS13

	client = base.Clone()
	client.RootCAs = pool
	client.MinVersion = tls.VersionTLS13
	// Nodes dial each other by address, and a node certificate need not
	// name it: the standard check would fail on the host name. It is
	// switched off only to be replaced by the chain check below, which
	// VerifyConnection runs on every handshake.
	client.InsecureSkipVerify = true
	userVerify := base.VerifyConnection
	client.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := verifyChain(cs, pool, x509.ExtKeyUsageServerAuth); err != nil {
			return err
		}
		if userVerify != nil {
			return userVerify(cs)
		}
		return nil
	}
	return server, client
}

// verifyChain checks that the peer's certificate chains to roots and may
// be used for usage, ignoring the host name.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, usage x509.ExtKeyUsage) error {
	if roots == nil {
		// x509 would fall back to the system roots.
		return errors.New("no CA pool to verify the peer certificate")
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("peer presented no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{usage},
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("peer certificate: %w", err)
	}
	return nil
}

// LoadNodeTLS builds the mutual-TLS config from PEM files: this node's
// certificate and key, and the CA that signs every node's certificate.
// The CA is trusted for both directions; nothing else is. A node both
// dials and accepts, so its certificate must allow server and client
// authentication (both extended key usages, or none).
func LoadNodeTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load node certificate: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("cluster CA %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}, nil
}
