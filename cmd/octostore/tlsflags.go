package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"net/http"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/server"
)

// addServeTLSFlags registers serve's HTTPS settings.
func addServeTLSFlags(fs *flag.FlagSet) *server.TLSConfig {
	c := &server.TLSConfig{}
	fs.StringVar(&c.CertFile, "tls-cert-file", "", "PEM certificate (chain) to serve HTTPS with; replaced files are picked up within 10s or on SIGHUP")
	fs.StringVar(&c.KeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	fs.StringVar(&c.ClientCAFile, "tls-client-ca-file", "", "PEM CAs that must sign every client's certificate (bearer tokens are still required)")
	return c
}

// checkServeTLS refuses HTTPS settings that cannot work.
func checkServeTLS(c *server.TLSConfig) error {
	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("--tls-cert-file and --tls-key-file go together")
	case c.ClientCAFile != "" && c.CertFile == "":
		return errors.New("--tls-client-ca-file needs --tls-cert-file and --tls-key-file")
	}
	return nil
}

// tlsFlags are a client command's TLS settings: whom to trust beyond the
// system's roots, and which certificate to present.
type tlsFlags struct {
	files client.TLSFiles
}

// addTLSFlags registers --ca-file, --cert-file and --key-file (and so
// OCTOSTORE_CA_FILE, OCTOSTORE_CERT_FILE, OCTOSTORE_KEY_FILE).
func addTLSFlags(fs *flag.FlagSet) *tlsFlags {
	t := &tlsFlags{}
	fs.StringVar(&t.files.CAFile, "ca-file", "", "PEM CA certificates to trust for https:// URLs, besides the system's")
	fs.StringVar(&t.files.CertFile, "cert-file", "", "PEM client certificate, for servers that require one")
	fs.StringVar(&t.files.KeyFile, "key-file", "", "PEM private key of --cert-file")
	return t
}

// config is the TLS configuration the flags describe; nil for the
// defaults.
func (t *tlsFlags) config() (*tls.Config, error) { return client.LoadTLS(t.files) }

// httpClient is a plain HTTP client with the flags' TLS settings, for
// commands that do not go through the client package (health).
func (t *tlsFlags) httpClient() (*http.Client, error) {
	tc, err := t.config()
	if err != nil || tc == nil {
		return http.DefaultClient, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr}, nil
}
