package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
)

// TLSFiles names the PEM files of a client's TLS settings. All are
// optional.
type TLSFiles struct {
	// CAFile holds certificates to trust besides the system's roots: the
	// CA of a server with a private certificate.
	CAFile string
	// CertFile and KeyFile are a client certificate (chain) and its key,
	// for servers that require one. Both or neither.
	CertFile, KeyFile string
}

// LoadTLS builds the TLS configuration the files describe, for WithTLS.
// With no file named it returns nil: the system's roots, no client
// certificate.
func LoadTLS(f TLSFiles) (*tls.Config, error) {
	if f == (TLSFiles{}) {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.CAFile != "" {
		pool, err := trustPool(f.CAFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, fmt.Errorf("%w: a client certificate needs both its certificate and its key file", ErrInvalid)
	}
	if f.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: client certificate: %w", ErrInvalid, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// trustPool is the system's roots plus the certificates in file. A file
// with none is an error: a wrong path must not silently trust nothing
// extra.
func trustPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %w", ErrInvalid, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool() // no system roots on this platform: trust the file alone
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrInvalid, file)
	}
	return pool, nil
}

// WithTLS makes the client connect to https:// servers with tc (from
// LoadTLS, or built by hand); nil keeps the defaults. It configures the
// transport of the HTTP client: http.DefaultTransport's settings, or
// those of WithHTTPClient's client if its Transport is an
// *http.Transport (New refuses any other kind).
func WithTLS(tc *tls.Config) Option { return func(c *Client) { c.tls = tc } }

// applyTLS gives the HTTP client a transport that uses c.tls, leaving the
// caller's client and transport unchanged.
func (c *Client) applyTLS() error {
	if c.tls == nil {
		return nil
	}
	var base *http.Transport
	switch t := c.http.Transport.(type) {
	case nil:
		base = http.DefaultTransport.(*http.Transport)
	case *http.Transport:
		base = t
	default:
		return fmt.Errorf("%w: WithTLS needs the HTTP client's Transport to be an *http.Transport, not %T", ErrInvalid, t)
	}
	tr := base.Clone()
	tr.TLSClientConfig = c.tls.Clone()
	hc := *c.http
	hc.Transport = tr
	c.http = &hc
	return nil
}

// tlsRefused reports whether err is a failed TLS handshake: the client
// did not trust the server's certificate, the server refused the
// client's (or its lack of one), or the other side does not speak TLS.
// No request got through, and repeating it would meet the same refusal.
func tlsRefused(err error) bool {
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	var op *net.OpError
	return errors.As(err, &verify) || errors.As(err, &record) ||
		(errors.As(err, &op) && op.Op == "remote error") // a TLS alert from the server
}
