package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
	"github.com/octostore/octostore/internal/testpki"
)

// logTo sends the server's log to buf.
func logTo(buf *apitest.LogBuffer) func(*server.Config) {
	return func(c *server.Config) { c.Logger = slog.New(slog.NewTextHandler(buf, nil)) }
}

// goClient is a client of the package users import, trusting what files
// names.
func goClient(t *testing.T, url, token string, files client.TLSFiles) *client.Client {
	t.Helper()
	tc, err := client.LoadTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(url, token, client.WithTLS(tc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantNotHeld fails unless the lock is free: a refused request must not
// have taken it.
func wantNotHeld(t *testing.T, c *apitest.Client, name string) {
	t.Helper()
	r := c.Do("GET", "/locks/"+name, alice, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"status":"available"`) {
		t.Fatalf("%s after a refused request: %d %s", name, r.Status, r.Body)
	}
}

// TestHTTPS_GoClientWithCAFile: a client that trusts the server's CA from
// a PEM file works end to end, every exchange valid against the spec.
func TestHTTPS_GoClientWithCAFile(t *testing.T) {
	srv := apitest.StartTLSServer(t, nil)
	c := goClient(t, srv.URL, alice, client.TLSFiles{CAFile: srv.CAFile})
	l, err := c.Acquire(t.Context(), "tls/e2e", client.AcquireOptions{TTL: time.Minute})
	if err != nil || l.Status != "acquired" {
		t.Fatalf("acquire over HTTPS: %+v %v", l, err)
	}
	r := srv.Client(t).Do("GET", "/locks/tls/e2e", alice, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"holder":"alice"`) {
		t.Fatalf("status over HTTPS: %d %s", r.Status, r.Body)
	}
	if err := c.Release(t.Context(), "tls/e2e", l.LeaseID); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPS_PlainHTTPGetsNoService: a request in the clear to the TLS
// port never reaches the API, whatever token it carries.
func TestHTTPS_PlainHTTPGetsNoService(t *testing.T) {
	srv := apitest.StartTLSServer(t, nil)
	req, _ := http.NewRequest("POST", "http://"+srv.Addr()+"/locks/plain/acquire", strings.NewReader(`{"ttl_seconds":60}`))
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Request-Id") != "" {
			t.Fatalf("plain HTTP to the TLS port: %d %s %v", resp.StatusCode, body, resp.Header)
		}
	}
	c, err := client.New("http://"+srv.Addr(), alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(t.Context(), "plain", client.AcquireOptions{TTL: time.Minute}); err == nil {
		t.Fatal("the Go client acquired over plain HTTP to the TLS port")
	}
	wantNotHeld(t, srv.Client(t), "plain")
}

// TestHTTPS_UntrustedServerRefused: a client that does not trust the
// server's CA (the system's roots alone, or another CA) refuses to talk,
// says why, and never reports an unknown outcome: nothing was sent.
func TestHTTPS_UntrustedServerRefused(t *testing.T) {
	srv := apitest.StartTLSServer(t, nil)
	otherCA := testpki.NewCA(t, "someone else's CA").WriteCA(t, t.TempDir(), "other.crt")
	for name, files := range map[string]client.TLSFiles{"system roots": {}, "another CA": {CAFile: otherCA}} {
		t.Run(name, func(t *testing.T) {
			c := goClient(t, srv.URL, alice, files)
			_, err := c.Acquire(t.Context(), "untrusted", client.AcquireOptions{TTL: time.Minute})
			var verify *tls.CertificateVerificationError
			if !errors.As(err, &verify) || !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrOutcomeUnknown) {
				t.Fatalf("acquire from an untrusted server: %v", err)
			}
		})
	}
	wantNotHeld(t, srv.Client(t), "untrusted")
}

// TestHTTPS_OldTLSRefused: nothing older than TLS 1.2 is spoken.
func TestHTTPS_OldTLSRefused(t *testing.T) {
	srv := apitest.StartTLSServer(t, nil)
	tc := srv.TLSConfig()
	tc.MinVersion, tc.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if conn, err := tls.Dial("tcp", srv.Addr(), tc); err == nil {
		conn.Close()
		t.Fatalf("a TLS 1.1 handshake succeeded")
	}
	tc.MaxVersion = tls.VersionTLS12
	conn, err := tls.Dial("tcp", srv.Addr(), tc)
	if err != nil {
		t.Fatalf("TLS 1.2 refused: %v", err)
	}
	conn.Close()
}

// servedSerial is the serial number of the certificate a new connection
// to addr is shown.
func servedSerial(t *testing.T, srv *apitest.TLSServer) string {
	t.Helper()
	conn, err := tls.Dial("tcp", srv.Addr(), srv.TLSConfig())
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// traffic keeps making requests, each on a new connection, until stopped;
// every one must succeed.
type traffic struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	firstErr   error
}

func startTraffic(t *testing.T, srv *apitest.TLSServer, workers int) *traffic {
	tr := &traffic{stop: make(chan struct{})}
	transport := srv.Transport()
	transport.DisableKeepAlives = true // a handshake per request
	hc := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	for range workers {
		tr.wg.Go(func() { tr.run(hc, srv.URL) })
	}
	t.Cleanup(tr.halt)
	return tr
}

func (tr *traffic) run(hc *http.Client, url string) {
	for i := 0; i < 100_000; i++ { // bounded, whatever happens
		select {
		case <-tr.stop:
			return
		default:
		}
		req, _ := http.NewRequest("GET", url+"/locks/traffic", nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		if err != nil {
			tr.fail(err)
			continue
		}
		tr.ok.Add(1)
	}
}

func (tr *traffic) fail(err error) {
	tr.failed.Add(1)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.firstErr == nil {
		tr.firstErr = err
	}
}

func (tr *traffic) halt() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	tr.wg.Wait()
}

// check stops the traffic and fails the test if any request failed.
func (tr *traffic) check(t *testing.T) {
	t.Helper()
	tr.halt()
	if tr.failed.Load() > 0 || tr.ok.Load() == 0 {
		t.Fatalf("during the swap: %d requests ok, %d failed (first: %v)", tr.ok.Load(), tr.failed.Load(), tr.firstErr)
	}
}

// TestHTTPS_CertificateReplacedWhileServing: new files are picked up by
// the periodic check without a restart, while clients keep connecting,
// and none of their requests fails.
func TestHTTPS_CertificateReplacedWhileServing(t *testing.T) {
	srv := apitest.StartTLSServer(t, func(c *server.Config) { c.TLS.ReloadInterval = 100 * time.Millisecond })
	if got := servedSerial(t, srv); got != srv.Leaf.Cert.SerialNumber.String() {
		t.Fatalf("serves %s, not the configured certificate", got)
	}
	tr := startTraffic(t, srv, 2)
	poll.Until(t, 10*time.Second, "traffic flowing", func() bool { return tr.ok.Load() > 0 })
	next := srv.CA.Server(t)
	next.Write(t, srv.CertFile, srv.KeyFile)
	poll.Until(t, 10*time.Second, "a new connection shown the new certificate", func() bool {
		return servedSerial(t, srv) == next.Cert.SerialNumber.String()
	})
	tr.check(t)
}

// TestHTTPS_ReloadTLSIsImmediate: ReloadTLS (what SIGHUP calls) serves the
// new files to the next connection, long before the periodic check.
func TestHTTPS_ReloadTLSIsImmediate(t *testing.T) {
	srv := apitest.StartTLSServer(t, func(c *server.Config) { c.TLS.ReloadInterval = time.Hour })
	tr := startTraffic(t, srv, 2)
	poll.Until(t, 10*time.Second, "traffic flowing", func() bool { return tr.ok.Load() > 0 })
	next := srv.CA.Server(t)
	next.Write(t, srv.CertFile, srv.KeyFile)
	if got := servedSerial(t, srv); got != srv.Leaf.Cert.SerialNumber.String() {
		t.Fatalf("the files were re-read before the interval or a reload: serves %s", got)
	}
	if err := srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, srv); got != next.Cert.SerialNumber.String() {
		t.Fatalf("after ReloadTLS a new connection is shown %s, want %s", got, next.Cert.SerialNumber)
	}
	tr.check(t)
}

// TestHTTPS_BadReplacementKeepsServing: a replacement that does not load,
// found by the periodic check or by a reload, leaves the previous
// certificate in service and the error in the log.
func TestHTTPS_BadReplacementKeepsServing(t *testing.T) {
	var log apitest.LogBuffer
	srv := apitest.StartTLSServer(t, func(c *server.Config) {
		logTo(&log)(c)
		c.TLS.ReloadInterval = 50 * time.Millisecond
	})
	tr := startTraffic(t, srv, 1)
	// A new certificate whose key has not been written yet.
	testpki.WriteFile(t, srv.CertFile, srv.CA.Server(t).CertPEM)
	poll.Until(t, 10*time.Second, "the refusal logged", func() bool { return strings.Contains(log.String(), "do not load") })
	if err := srv.ReloadTLS(); err == nil {
		t.Fatal("ReloadTLS accepted a certificate with another's key")
	}
	if got := servedSerial(t, srv); got != srv.Leaf.Cert.SerialNumber.String() {
		t.Fatalf("serves %s after a bad replacement, want the previous certificate", got)
	}
	tr.check(t)
}

// TestHTTPS_ClientCertificates: with a client CA, the handshake itself
// refuses a client without a certificate from that CA, before any HTTP;
// a client with one still needs its bearer token.
func TestHTTPS_ClientCertificates(t *testing.T) {
	dir := t.TempDir()
	clientCA := testpki.NewCA(t, "client CA")
	srv := apitest.StartTLSServer(t, func(c *server.Config) { c.TLS.ClientCAFile = clientCA.WriteCA(t, dir, "clients.crt") })
	good := clientCA.Client(t, "ci-runner")
	refused := map[string]*testpki.Leaf{
		"none":                 nil,
		"from another CA":      srv.CA.Client(t, "ci-runner"),
		"a server certificate": clientCA.Server(t), // not for client authentication
		"expired":              clientCA.Issue(t, expiredClient()),
		"from a look-alike CA": testpki.NewCA(t, "client CA").Client(t, "ci-runner"),
	}
	for name, leaf := range refused {
		t.Run(name, func(t *testing.T) {
			files := client.TLSFiles{CAFile: srv.CAFile}
			if leaf != nil {
				files.CertFile, files.KeyFile = filepath.Join(t.TempDir(), "c.crt"), filepath.Join(t.TempDir(), "c.key")
				leaf.Write(t, files.CertFile, files.KeyFile)
			}
			_, err := goClient(t, srv.URL, alice, files).Acquire(t.Context(), "mtls", client.AcquireOptions{TTL: time.Minute})
			if err == nil || !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrOutcomeUnknown) {
				t.Fatalf("acquire: %v", err)
			}
			var certs []tls.Certificate
			if leaf != nil {
				certs = append(certs, leaf.TLS(t))
			}
			if resp, err := (&http.Client{Transport: srv.Transport(certs...)}).Get(srv.URL + "/health"); err == nil {
				resp.Body.Close()
				t.Fatalf("an HTTP answer (%s) without an accepted client certificate", resp.Status)
			}
		})
	}
	c := srv.Client(t, good.TLS(t))
	if r := c.Do("POST", "/locks/mtls/acquire", "", map[string]any{"ttl_seconds": 60}); r.Status != http.StatusUnauthorized {
		t.Fatalf("a client certificate without a token: %d %s", r.Status, r.Body)
	}
	wantNotHeld(t, c, "mtls")
	if r := c.Do("POST", "/locks/mtls/acquire", alice, map[string]any{"ttl_seconds": 60}); r.Status != http.StatusOK {
		t.Fatalf("certificate and token: %d %s", r.Status, r.Body)
	}
}

func expiredClient() *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: "ci-runner"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}
}

// TestHTTPS_HSTS: over TLS every answer, error or not, tells browsers to
// stay on HTTPS; over plain HTTP none does.
func TestHTTPS_HSTS(t *testing.T) {
	paths := []struct{ method, path, token string }{
		{"GET", "/health", ""}, {"GET", "/openapi.yaml", ""}, {"GET", "/locks", ""}, {"GET", "/locks", alice},
		{"GET", "/nowhere", alice}, {"GET", "/ui/", ""}, {"POST", "/locks/h/acquire", alice},
	}
	tlsC := apitest.StartTLSServer(t, nil).Client(t)
	_, plainC := apitest.Start(t)
	for _, p := range paths {
		var body any
		if p.method == "POST" {
			body = map[string]any{"ttl_seconds": 60}
		}
		if got := tlsC.Do(p.method, p.path, p.token, body).Header.Get("Strict-Transport-Security"); got != "max-age=63072000" {
			t.Errorf("%s %s over TLS: Strict-Transport-Security %q", p.method, p.path, got)
		}
		if got := plainC.Do(p.method, p.path, p.token, body).Header.Values("Strict-Transport-Security"); len(got) > 0 {
			t.Errorf("%s %s over plain HTTP: Strict-Transport-Security %q", p.method, p.path, got)
		}
	}
}

// TestHTTPS_StartRefusesBadFiles: a server never starts with a pair it
// cannot serve or a client CA file without certificates.
func TestHTTPS_StartRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "test CA")
	cert, key := filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")
	ca.Server(t).Write(t, cert, key)
	other := ca.Server(t)
	wrongKey := testpki.WriteFile(t, filepath.Join(dir, "wrong.key"), other.KeyPEM)
	noCerts := testpki.WriteFile(t, filepath.Join(dir, "none.crt"), []byte("nothing\n"))
	for name, tc := range map[string]server.TLSConfig{
		"key of another certificate":             {CertFile: cert, KeyFile: wrongKey},
		"missing certificate":                    {CertFile: filepath.Join(dir, "missing.crt"), KeyFile: key},
		"certificate without key":                {CertFile: cert},
		"client CA without certificates":         {CertFile: cert, KeyFile: key, ClientCAFile: noCerts},
		"client CA without a server certificate": {ClientCAFile: ca.WriteCA(t, dir, "ca.crt")},
	} {
		t.Run(name, func(t *testing.T) {
			srv, err := server.Start(t.Context(), server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), TLS: tc,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil {
				srv.Shutdown(t.Context())
				t.Fatal("started")
			}
		})
	}
}
