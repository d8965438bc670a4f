package apitest

import (
	"crypto/tls"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/testpki"
)

// TLSServer is a test server serving HTTPS with a certificate for
// 127.0.0.1 from a CA of its own.
type TLSServer struct {
	*server.Server
	CA                *testpki.CA
	Leaf              *testpki.Leaf // the certificate it started with
	CAFile            string        // the CA's certificate: a client's --ca-file
	CertFile, KeyFile string        // what the server serves; replace them to rotate
	URL               string        // https://127.0.0.1:port
}

// StartTLSServer runs a server like StartServerWith, serving HTTPS;
// configure may change the configuration further (client certificates,
// the reload interval) before it starts.
func StartTLSServer(t testing.TB, configure func(*server.Config)) *TLSServer {
	t.Helper()
	dir := t.TempDir()
	s := &TLSServer{CA: testpki.NewCA(t, "octostore test CA"), CertFile: filepath.Join(dir, "server.crt"),
		KeyFile: filepath.Join(dir, "server.key")}
	s.CAFile = s.CA.WriteCA(t, dir, "ca.crt")
	s.Leaf = s.CA.Server(t)
	s.Leaf.Write(t, s.CertFile, s.KeyFile)
	s.Server = StartServerWith(t, "", func(c *server.Config) {
		c.TLS = server.TLSConfig{CertFile: s.CertFile, KeyFile: s.KeyFile}
		if configure != nil {
			configure(c)
		}
	})
	s.URL = "https://" + s.Addr()
	return s
}

// TLSConfig trusts the server's CA, and presents certs if given.
func (s *TLSServer) TLSConfig(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: s.CA.Pool, Certificates: certs, MinVersion: tls.VersionTLS12}
}

// Transport is a transport that trusts the server's CA and presents
// certs, if given.
func (s *TLSServer) Transport(certs ...tls.Certificate) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.TLSConfig(certs...)
	return tr
}

// Client is a contract-checking client of the server over HTTPS.
func (s *TLSServer) Client(t testing.TB, certs ...tls.Certificate) *Client {
	t.Helper()
	return NewWith(t, s.URL, s.Transport(certs...))
}
