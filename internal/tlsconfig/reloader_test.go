package tlsconfig_test

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/testpki"
	"github.com/octostore/octostore/internal/tlsconfig"
)

// files is a certificate and key on disk and the CA that signs them.
type files struct {
	ca        *testpki.CA
	cert, key string
	log       *apitest.LogBuffer
	first     *testpki.Leaf
	reloader  *tlsconfig.Reloader
}

func newFiles(t *testing.T, interval time.Duration) *files {
	t.Helper()
	dir := t.TempDir()
	f := &files{ca: testpki.NewCA(t, "test CA"), cert: filepath.Join(dir, "server.crt"),
		key: filepath.Join(dir, "server.key"), log: &apitest.LogBuffer{}}
	f.first = f.ca.Server(t)
	f.first.Write(t, f.cert, f.key)
	var err error
	f.reloader, err = tlsconfig.NewReloader(f.cert, f.key, interval, slog.New(slog.NewTextHandler(f.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// served is the serial number a handshake would be given now.
func (f *files) served(t *testing.T) string {
	t.Helper()
	c, err := f.reloader.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil || c.Leaf == nil {
		t.Fatalf("GetCertificate: %v %v", c, err)
	}
	return c.Leaf.SerialNumber.String()
}

func TestReloader_PicksUpReplacedFiles(t *testing.T) {
	f := newFiles(t, 20*time.Millisecond)
	if got := f.served(t); got != f.first.Cert.SerialNumber.String() {
		t.Fatalf("serves %s, want the first certificate", got)
	}
	next := f.ca.Server(t)
	next.Write(t, f.cert, f.key)
	poll.Until(t, 5*time.Second, "the replacement served", func() bool {
		return f.served(t) == next.Cert.SerialNumber.String()
	})
	if !strings.Contains(f.log.String(), "TLS certificate reloaded") {
		t.Fatalf("no reload logged:\n%s", f.log)
	}
}

// TestReloader_ReloadIsImmediate: an explicit Reload (SIGHUP) does not
// wait for the interval, which here is longer than the test.
func TestReloader_ReloadIsImmediate(t *testing.T) {
	f := newFiles(t, time.Hour)
	next := f.ca.Server(t)
	next.Write(t, f.cert, f.key)
	if got := f.served(t); got != f.first.Cert.SerialNumber.String() {
		t.Fatalf("the files were read before the interval passed: serves %s", got)
	}
	if err := f.reloader.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := f.served(t); got != next.Cert.SerialNumber.String() {
		t.Fatalf("after Reload serves %s, want %s", got, next.Cert.SerialNumber)
	}
}

// TestReloader_BadReplacementKeepsTheOldPair: whatever lands in the files,
// a pair that does not load is never served; the previous one stays and
// the operator is told why.
func TestReloader_BadReplacementKeepsTheOldPair(t *testing.T) {
	other := testpki.NewCA(t, "other CA").Server(t)
	cases := map[string]func(t *testing.T, f *files){
		"garbage certificate": func(t *testing.T, f *files) { testpki.WriteFile(t, f.cert, []byte("not a certificate")) },
		"key of another certificate": func(t *testing.T, f *files) {
			testpki.WriteFile(t, f.cert, f.ca.Server(t).CertPEM) // the key on disk is still the old one
		},
		"missing key file": func(t *testing.T, f *files) { os.Remove(f.key) },
		"empty files": func(t *testing.T, f *files) {
			testpki.WriteFile(t, f.cert, nil)
			testpki.WriteFile(t, f.key, nil)
		},
		"expired certificate": func(t *testing.T, f *files) {
			f.ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
				NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}).Write(t, f.cert, f.key)
		},
		"key only half written": func(t *testing.T, f *files) {
			testpki.WriteFile(t, f.cert, other.CertPEM)
			testpki.WriteFile(t, f.key, other.KeyPEM[:len(other.KeyPEM)/2])
		},
	}
	for name, replace := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFiles(t, time.Hour)
			replace(t, f)
			if err := f.reloader.Reload(); err == nil {
				t.Fatal("Reload accepted a bad pair")
			}
			if got := f.served(t); got != f.first.Cert.SerialNumber.String() {
				t.Fatalf("serves %s after a bad replacement, want the previous certificate", got)
			}
			if !strings.Contains(f.log.String(), "still serving the previous certificate") {
				t.Fatalf("the refusal is not logged:\n%s", f.log)
			}
			// Fixing the files is picked up.
			next := f.ca.Server(t)
			next.Write(t, f.cert, f.key)
			if err := f.reloader.Reload(); err != nil || f.served(t) != next.Cert.SerialNumber.String() {
				t.Fatalf("a good pair after a bad one: %v", err)
			}
		})
	}
}

// TestReloader_BadReplacementLoggedOnce: periodic checks that keep finding
// the same bad files do not repeat the error at every handshake.
func TestReloader_BadReplacementLoggedOnce(t *testing.T) {
	f := newFiles(t, time.Nanosecond) // every handshake looks at the files
	testpki.WriteFile(t, f.cert, []byte("not a certificate"))
	for range 50 {
		f.served(t)
	}
	if n := strings.Count(f.log.String(), "do not load"); n != 1 {
		t.Fatalf("the same bad files were logged %d times:\n%s", n, f.log)
	}
}

func TestNewReloader_RefusesABadPair(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "test CA")
	a, b := ca.Server(t), ca.Server(t)
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	testpki.WriteFile(t, cert, a.CertPEM)
	testpki.WriteFile(t, key, b.KeyPEM)
	log := slog.New(slog.NewTextHandler(&apitest.LogBuffer{}, nil))
	if _, err := tlsconfig.NewReloader(cert, key, 0, log); err == nil {
		t.Fatal("a certificate with another's key was accepted")
	}
	if _, err := tlsconfig.NewReloader(filepath.Join(dir, "none"), key, 0, log); err == nil {
		t.Fatal("a missing certificate file was accepted")
	}
}

// TestReloader_ConcurrentHandshakesDuringReload: handshakes never get a
// nil or torn pair while the files are replaced and reloaded (run with
// -race).
func TestReloader_ConcurrentHandshakesDuringReload(t *testing.T) {
	f := newFiles(t, time.Millisecond)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := f.reloader.GetCertificate(nil); err != nil || c == nil || c.Leaf == nil {
					t.Errorf("GetCertificate: %v %v", c, err)
					return
				}
			}
		})
	}
	for range 10 {
		f.ca.Server(t).Write(t, f.cert, f.key)
		f.reloader.Reload()
	}
	close(stop)
	wg.Wait()
}

func TestLoadPool(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "client CA")
	if pool, err := tlsconfig.LoadPool(ca.WriteCA(t, dir, "ca.pem")); err != nil || pool == nil {
		t.Fatalf("LoadPool: %v", err)
	}
	empty := testpki.WriteFile(t, filepath.Join(dir, "empty.pem"), []byte("no certificates here\n"))
	if _, err := tlsconfig.LoadPool(empty); err == nil {
		t.Fatal("a file without certificates became an empty pool")
	}
	if _, err := tlsconfig.LoadPool(filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("a missing file became an empty pool")
	}
}
