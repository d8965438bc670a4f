package server

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/octostore/octostore/internal/tlsconfig"
)

// TLSConfig is how the API listener serves HTTPS. With no CertFile it
// serves plain HTTP.
type TLSConfig struct {
	// CertFile and KeyFile are the server's PEM certificate (chain) and
	// key. Replacing them takes effect for new connections within
	// ReloadInterval, or at once on ReloadTLS.
	CertFile, KeyFile string
	// ClientCAFile, when set, makes every client present a certificate
	// signed by one of the CAs in it; bearer tokens are still required.
	ClientCAFile string
	// ReloadInterval is how often, at most, the files are checked for a
	// replacement; zero is tlsconfig.DefaultInterval.
	ReloadInterval time.Duration
}

// hstsHeader tells browsers to use only HTTPS for this host for two
// years. Sent only over TLS: over plain HTTP it would be ignored, and it
// must never be a promise a plain server cannot keep.
const hstsHeader = "max-age=63072000"

// ErrNoTLS is returned by ReloadTLS when the server serves plain HTTP.
var ErrNoTLS = errors.New("this server does not serve TLS")

// listenTLS wraps the listener in TLS when the configuration asks for it.
// TLS 1.2 is the oldest version spoken. Only HTTP/1.1 is offered, so that
// HTTPS behaves exactly like the plain HTTP the API is tested over
// (per-request write deadlines, one request per connection at a time).
func (s *Server) listenTLS() error {
	c := s.cfg.TLS
	if c.CertFile == "" && c.KeyFile == "" && c.ClientCAFile == "" {
		return nil
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return errors.New("TLS needs both a certificate file and a key file")
	}
	certs, err := tlsconfig.NewReloader(c.CertFile, c.KeyFile, c.ReloadInterval, s.cfg.Logger)
	if err != nil {
		return err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate, NextProtos: []string{"http/1.1"}}
	if c.ClientCAFile != "" {
		if tc.ClientCAs, err = tlsconfig.LoadPool(c.ClientCAFile); err != nil {
			return err
		}
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	s.certs = certs
	s.ln = tls.NewListener(s.ln, tc)
	return nil
}

// serveListener is what the API server serves: over plain HTTP, the
// listener that makes net/http's own answers JSON (httpapi.JSONErrors);
// over TLS, net/http needs the TLS connections themselves.
func (s *Server) serveListener() net.Listener {
	if s.certs != nil {
		return s.ln
	}
	return s.api.JSONErrors(s.http, s.ln)
}

// scheme is the scheme of this server's URLs.
func (s *Server) scheme() string {
	if s.certs != nil {
		return "https"
	}
	return "http"
}

// withHSTS adds Strict-Transport-Security to every answer when serving
// TLS.
func (s *Server) withHSTS(h http.Handler) http.Handler {
	if s.certs == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", hstsHeader)
		h.ServeHTTP(w, r)
	})
}

// warnPlainHTTP logs, once at start, that tokens will cross the network
// in the clear when the server listens beyond loopback without TLS.
func (s *Server) warnPlainHTTP() {
	if s.certs == nil && !loopback(s.ln.Addr()) {
		s.cfg.Logger.Warn(plainHTTPWarning, "addr", s.ln.Addr().String())
	}
}

// plainHTTPWarning says what is wrong and how to turn TLS on.
const plainHTTPWarning = "serving plain HTTP on a non-loopback address: bearer tokens and lock data cross the network " +
	"unencrypted; serve HTTPS with --tls-cert-file and --tls-key-file (OCTOSTORE_TLS_CERT_FILE, OCTOSTORE_TLS_KEY_FILE), " +
	"unless a TLS-terminating proxy is the only way in"

// loopback reports whether addr is a loopback address (127.0.0.0/8, ::1).
// The unspecified address (0.0.0.0, ::) listens on every interface, so it
// is not.
func loopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// ReloadTLS reads the certificate and key files now (what SIGHUP does)
// instead of at the next periodic check. If the new pair does not load,
// the previous one goes on being served and the error says why.
func (s *Server) ReloadTLS() error {
	if s.certs == nil {
		return ErrNoTLS
	}
	return s.certs.Reload()
}

// tlsSummary describes, for the start-up log line, how the listener
// serves: "off", or the certificate's subject and expiry and whether
// client certificates are required.
func (s *Server) tlsSummary() slog.Value {
	if s.certs == nil {
		return slog.StringValue("off")
	}
	leaf := s.certs.Current().Leaf
	return slog.GroupValue(slog.String("subject", leaf.Subject.String()), slog.Time("not_after", leaf.NotAfter),
		slog.Bool("client_certs", s.cfg.TLS.ClientCAFile != ""))
}
