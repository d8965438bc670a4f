package tlsconfig

import (
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultInterval is how often, at most, a Reloader looks at its files
// when no other interval is given. Handshakes between checks get the
// current pair without touching the disk.
const DefaultInterval = 5 * time.Second

// maxFileSize bounds what is read from a certificate or key file; real
// ones are a few KiB, chains a few more.
const maxFileSize = 1 << 20

// Reloader holds the certificate and key read from two PEM files and
// re-reads them when they change. It is safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger

	current atomic.Pointer[tls.Certificate]
	due     atomic.Int64 // UnixNano of the next periodic check

	mu      sync.Mutex // held while the files are read
	seen    [32]byte   // digest of the files' contents last read, good or bad
	seenErr error      // why what was last read was refused; nil if it is served
}

// NewReloader loads certFile and keyFile, which must hold a valid pair,
// and checks them again at most every interval (DefaultInterval when not
// positive). log receives reloads and refused replacements (nil: none).
func NewReloader(certFile, keyFile string, interval time.Duration, log *slog.Logger) (*Reloader, error) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, interval: interval, log: log}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate returns the current pair, having first looked for a
// replacement if the interval has passed. It fits tls.Config's field of
// the same name. While another handshake is checking the files, it does
// not wait: the pair it returns is at most that check old.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if time.Now().UnixNano() >= r.due.Load() && r.mu.TryLock() {
		r.check()
		r.mu.Unlock()
	}
	return r.current.Load(), nil
}

// Current is the pair being served.
func (r *Reloader) Current() *tls.Certificate { return r.current.Load() }

// Reload reads the files now, whatever the interval (an operator's
// SIGHUP). It returns why the files on disk are not being served, if they
// are not: the previous pair then stays.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed, err := r.check()
	if err != nil && !changed {
		// An operator asked: say again what is wrong, even though the
		// periodic check logged it when the files first changed.
		r.log.Error("TLS certificate files not loaded; still serving the previous certificate",
			"cert_file", r.certFile, "key_file", r.keyFile, "err", err)
	}
	return err
}

// check reads both files and, if their contents changed since the last
// check, loads them. It reports whether they changed and why what is on
// disk is not served (nil when it is). Callers hold mu.
func (r *Reloader) check() (changed bool, err error) {
	r.due.Store(time.Now().Add(r.interval).UnixNano())
	certPEM, keyPEM, err := r.read()
	digest := digestOf(certPEM, keyPEM, err)
	first := r.current.Load() == nil
	if !first && digest == r.seen {
		return false, r.seenErr
	}
	var cert *tls.Certificate
	if err == nil {
		cert, err = parsePair(certPEM, keyPEM, time.Now())
	}
	r.seen, r.seenErr = digest, err
	switch {
	case first && err == nil:
		r.current.Store(cert)
	case err != nil && !first:
		// Logged once per change of the files, not at every check.
		r.log.Error("TLS certificate files changed but do not load; still serving the previous certificate",
			"cert_file", r.certFile, "key_file", r.keyFile, "err", err)
	case err == nil:
		r.current.Store(cert)
		r.log.Info("TLS certificate reloaded", "cert_file", r.certFile, "subject", cert.Leaf.Subject.String(),
			"serial", cert.Leaf.SerialNumber.Text(16), "not_after", cert.Leaf.NotAfter)
	}
	return true, err
}

// read returns both files' contents.
func (r *Reloader) read() (certPEM, keyPEM []byte, err error) {
	if certPEM, err = readFile(r.certFile); err != nil {
		return nil, nil, err
	}
	if keyPEM, err = readFile(r.keyFile); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// parsePair loads a certificate (chain) and its key and refuses a
// certificate that has expired: serving it would fail every client.
func parsePair(certPEM, keyPEM []byte, now time.Time) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load certificate and key: %w", err)
	}
	if cert.Leaf == nil {
		return nil, errors.New("load certificate and key: no certificate")
	}
	if now.After(cert.Leaf.NotAfter) {
		return nil, fmt.Errorf("certificate %s expired at %s", cert.Leaf.Subject, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// readFile reads a PEM file of bounded size.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err == nil && len(b) > maxFileSize {
		err = fmt.Errorf("%s: larger than %d bytes", name, maxFileSize)
	}
	return b, err
}

// digestOf identifies what a check found: the two files' contents, or the
// error that kept them from being read, so the same failure is logged
// once, not at every check.
func digestOf(certPEM, keyPEM []byte, err error) [32]byte {
	h := sha256.New()
	if err != nil {
		fmt.Fprintf(h, "error\x00%s", err)
	} else {
		fmt.Fprintf(h, "%d\x00", len(certPEM))
		h.Write(certPEM)
		h.Write(keyPEM)
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}
