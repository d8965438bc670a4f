package client_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/testpki"
)

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "test CA")
	caFile := ca.WriteCA(t, dir, "ca.crt")
	me, other := ca.Client(t, "me"), ca.Client(t, "other")
	cert, key := filepath.Join(dir, "me.crt"), filepath.Join(dir, "me.key")
	me.Write(t, cert, key)
	otherKey := testpki.WriteFile(t, filepath.Join(dir, "other.key"), other.KeyPEM)
	noCerts := testpki.WriteFile(t, filepath.Join(dir, "empty.pem"), []byte("# nothing\n"))

	if tc, err := client.LoadTLS(client.TLSFiles{}); tc != nil || err != nil {
		t.Fatalf("no files: %v %v, want the defaults (nil)", tc, err)
	}
	tc, err := client.LoadTLS(client.TLSFiles{CAFile: caFile, CertFile: cert, KeyFile: key})
	if err != nil || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.MinVersion < tls.VersionTLS12 {
		t.Fatalf("LoadTLS: %+v %v", tc, err)
	}
	for name, f := range map[string]client.TLSFiles{
		"missing CA file":          {CAFile: filepath.Join(dir, "missing.crt")},
		"CA file without a cert":   {CAFile: noCerts},
		"certificate without key":  {CertFile: cert},
		"key without certificate":  {KeyFile: key},
		"key of another cert":      {CertFile: cert, KeyFile: otherKey},
		"missing certificate file": {CertFile: filepath.Join(dir, "missing.crt"), KeyFile: key},
	} {
		if _, err := client.LoadTLS(f); !errors.Is(err, client.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestWithTLS_KeepsTheCallersTransport: WithTLS configures a copy of the
// HTTP client's transport, and refuses a transport it cannot configure
// rather than silently ignoring the TLS settings.
func TestWithTLS_KeepsTheCallersTransport(t *testing.T) {
	srv := apitest.StartTLSServer(t, nil)
	mine := &http.Transport{MaxIdleConnsPerHost: 3}
	c, err := client.New(srv.URL, apitest.AliceToken, client.WithHTTPClient(&http.Client{Transport: mine}),
		client.WithTLS(srv.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Health(ctx(t)); err != nil {
		t.Fatalf("over the configured copy: %v", err)
	}
	if mine.TLSClientConfig != nil && mine.TLSClientConfig.RootCAs != nil { // (Clone itself sets up HTTP/2 on it)
		t.Fatal("WithTLS changed the caller's transport")
	}
	wrapped := &http.Client{Transport: wrapper{mine}}
	if _, err := client.New(srv.URL, "", client.WithHTTPClient(wrapped), client.WithTLS(srv.TLSConfig())); !errors.Is(err, client.ErrInvalid) {
		t.Fatalf("WithTLS over a RoundTripper it cannot configure: %v", err)
	}
}

// wrapper is a RoundTripper that is not an *http.Transport.
type wrapper struct{ next http.RoundTripper }

func (w wrapper) RoundTrip(r *http.Request) (*http.Response, error) { return w.next.RoundTrip(r) }

// countingListener counts the connections a server accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestTLSRefusal_NotRetried: a server whose certificate is not trusted is
// asked once, even by a read the client would otherwise repeat on any
// failure: the same refusal would follow every time.
func TestTLSRefusal_NotRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingListener{Listener: ln}
	cert := testpki.NewCA(t, "untrusted CA").Server(t).TLS(t)
	hs := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)} // the refused handshake is expected
	go hs.Serve(tls.NewListener(counted, &tls.Config{Certificates: []tls.Certificate{cert}}))
	t.Cleanup(func() { hs.Close() })
	c, err := client.New("https://"+ln.Addr().String(), apitest.AliceToken)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx(t), "some/lock", client.GetOptions{})
	if !errors.Is(err, client.ErrUnavailable) || errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatalf("read from an untrusted server: %v", err)
	}
	if n := counted.n.Load(); n != 1 {
		t.Fatalf("%d connections for one refused read, want 1", n)
	}
}
