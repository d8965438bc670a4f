package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/testpki"
)

// pki is a CA and the files of a server certificate it signed.
type pki struct {
	ca                    *testpki.CA
	caFile, cert, key     string
	serverLeaf            *testpki.Leaf
	clientCert, clientKey string // a client certificate from the same CA
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{ca: testpki.NewCA(t, "octostore test CA"), cert: filepath.Join(dir, "server.crt"), key: filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.crt"), clientKey: filepath.Join(dir, "client.key")}
	p.caFile = p.ca.WriteCA(t, dir, "ca.crt")
	p.serverLeaf = p.ca.Server(t)
	p.serverLeaf.Write(t, p.cert, p.key)
	p.ca.Client(t, "ci-runner").Write(t, p.clientCert, p.clientKey)
	return p
}

// startTLSServe runs the real binary serving HTTPS with the pki's files.
func startTLSServe(t *testing.T, p *pki, args ...string) *proc {
	t.Helper()
	return startServe(t, tokensEnv, append([]string{"--data-dir", t.TempDir(),
		"--tls-cert-file", p.cert, "--tls-key-file", p.key}, args...)...)
}

// servedSerial is the serial of the certificate a new connection gets.
func servedSerial(t *testing.T, p *pki, url string, certs ...tls.Certificate) string {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{RootCAs: p.ca.Pool, Certificates: certs})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestServeTLS_CLIWithCAFile: the client commands reach a real
// `octostore serve --tls-cert-file` through --ca-file or
// OCTOSTORE_CA_FILE, and refuse it without.
func TestServeTLS_CLIWithCAFile(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServe(t, p)
	if !strings.HasPrefix(srv.Addr, "https://127.0.0.1:") || strings.Contains(srv.Log(), "plain HTTP") {
		t.Fatalf("serving at %s\n%s", srv.Addr, srv.Log())
	}
	code, out, errs := cli(t, srv.Addr, "lock", "acquire", "tls/cli", "--token", token, "--ca-file", p.caFile, "--json")
	if code != 0 || !strings.Contains(out, `"status": "acquired"`) {
		t.Fatalf("acquire with --ca-file: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = cli(t, srv.Addr, "lock", "status", "tls/cli", "--token", token)
	if code != exitUnavailable || !strings.Contains(errs, "certificate") {
		t.Fatalf("without the CA: exit %d, want %d naming the certificate: %s", code, exitUnavailable, errs)
	}
	isolate(t)
	t.Setenv("OCTOSTORE_CA_FILE", p.caFile)
	var o, e bytes.Buffer
	if code := run([]string{"lock", "status", "tls/cli", "--url", srv.Addr, "--token", token}, &o, &e); code != 0 || !strings.Contains(o.String(), "tester") {
		t.Fatalf("status with OCTOSTORE_CA_FILE: exit %d\n%s%s", code, o.String(), e.String())
	}
	if code := run([]string{"health", "--url", srv.Addr}, &o, &e); code != 0 {
		t.Fatalf("health with OCTOSTORE_CA_FILE: exit %d %s", code, e.String())
	}
	t.Setenv("OCTOSTORE_CA_FILE", "")
	if code := run([]string{"health", "--url", srv.Addr}, &o, &e); code == 0 {
		t.Fatal("health trusted the server without its CA")
	}
}

// TestServeTLS_ClientCertificates: with --tls-client-ca-file the CLI
// needs --cert-file/--key-file (or their variables) and its token.
func TestServeTLS_ClientCertificates(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServe(t, p, "--tls-client-ca-file", p.caFile)
	code, _, errs := cli(t, srv.Addr, "lock", "list", "--token", token, "--ca-file", p.caFile)
	if code != exitUnavailable {
		t.Fatalf("without a client certificate: exit %d, want %d: %s", code, exitUnavailable, errs)
	}
	code, out, errs := cli(t, srv.Addr, "lock", "acquire", "mtls/cli", "--token", token, "--ca-file", p.caFile,
		"--cert-file", p.clientCert, "--key-file", p.clientKey)
	if code != 0 || !strings.Contains(out, "mtls/cli") {
		t.Fatalf("with a client certificate: exit %d\n%s%s", code, out, errs)
	}
	isolate(t)
	for k, v := range map[string]string{"OCTOSTORE_CA_FILE": p.caFile, "OCTOSTORE_CERT_FILE": p.clientCert, "OCTOSTORE_KEY_FILE": p.clientKey} {
		t.Setenv(k, v)
	}
	var o, e bytes.Buffer
	if code := run([]string{"lock", "list", "--url", srv.Addr, "--token", token}, &o, &e); code != 0 || !strings.Contains(o.String(), "mtls/cli") {
		t.Fatalf("list with the variables: exit %d\n%s%s", code, o.String(), e.String())
	}
	if code := run([]string{"lock", "list", "--url", srv.Addr, "--token", "wrong-token-0123456789"}, &o, &e); code != exitNoPerm {
		t.Fatalf("a client certificate with a wrong token: exit %d, want %d", code, exitNoPerm)
	}
}

// TestServeTLS_SIGHUPReloads: SIGHUP makes the real process serve
// replaced files to new connections, keeps it running, and a bad
// replacement leaves the previous certificate in service.
func TestServeTLS_SIGHUPReloads(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServe(t, p)
	next := p.ca.Server(t)
	next.Write(t, p.cert, p.key)
	srv.Signal(syscall.SIGHUP)
	poll.Until(t, 5*time.Second, "the new certificate served", func() bool {
		return servedSerial(t, p, srv.Addr) == next.Cert.SerialNumber.String()
	})
	testpki.WriteFile(t, p.cert, []byte("-----BEGIN CERTIFICATE-----\ntruncated"))
	srv.Signal(syscall.SIGHUP)
	poll.Until(t, 5*time.Second, "the refusal logged", func() bool {
		return strings.Contains(srv.Log(), "still serving the previous certificate")
	})
	if got := servedSerial(t, p, srv.Addr); got != next.Cert.SerialNumber.String() {
		t.Fatalf("after a bad replacement serves %s, want %s", got, next.Cert.SerialNumber)
	}
	if code, out, errs := cli(t, srv.Addr, "lock", "acquire", "after/hup", "--token", token, "--ca-file", p.caFile); code != 0 {
		t.Fatalf("after SIGHUPs: exit %d\n%s%s", code, out, errs)
	}
}

// TestLogin_TLS: login verifies the pasted token over HTTPS with
// --ca-file.
func TestLogin_TLS(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServe(t, p)
	isolate(t)
	stdin = strings.NewReader(token + "\n")
	t.Cleanup(func() { stdin = os.Stdin })
	var out, errb bytes.Buffer
	if code := run([]string{"login", "--url", srv.Addr, "--ca-file", p.caFile}, &out, &errb); code != 0 || !strings.Contains(out.String(), "tester") {
		t.Fatalf("login over HTTPS: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// TestBench_HTTPS: bench drives a TLS server with --ca-file, and refuses
// one it does not trust.
func TestBench_HTTPS(t *testing.T) {
	p := newPKI(t)
	srv := startTLSServe(t, p)
	isolate(t)
	args := []string{"bench", "--url", srv.Addr, "--token", token, "--concurrency", "2", "--duration", "300ms", "--warmup=-1s", "--json"}
	var out, errb bytes.Buffer
	if code := run(append(args, "--ca-file", p.caFile), &out, &errb); code != 0 {
		t.Fatalf("bench over HTTPS: exit %d\n%s%s", code, out.String(), errb.String())
	}
	var report struct{ Cycles, Errors int64 }
	if err := json.Unmarshal(out.Bytes(), &report); err != nil || report.Cycles == 0 || report.Errors != 0 {
		t.Fatalf("report %+v %v\n%s", report, err, out.String())
	}
	out.Reset()
	if code := run(args, &out, &errb); code == 0 {
		t.Fatalf("bench trusted the server without its CA:\n%s", out.String())
	}
}

// TestServe_TLSFlags: settings that cannot work are refused before
// anything starts; files that do not load stop the start.
func TestServe_TLSFlags(t *testing.T) {
	p := newPKI(t)
	isolate(t)
	base := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}
	for _, extra := range [][]string{
		{"--tls-cert-file", p.cert},
		{"--tls-key-file", p.key},
		{"--tls-client-ca-file", p.caFile},
	} {
		var errb bytes.Buffer
		if code := run(append(base, extra...), &bytes.Buffer{}, &errb); code != exitUsage || errb.Len() == 0 {
			t.Errorf("%v: exit %d, want %d with a reason", extra, code, exitUsage)
		}
	}
	var errb bytes.Buffer
	code := run(append(base, "--tls-cert-file", p.cert, "--tls-key-file", p.clientKey), &bytes.Buffer{}, &errb)
	if code != 1 || !strings.Contains(errb.String(), "cannot start") {
		t.Fatalf("a key that does not match: exit %d: %s", code, errb.String())
	}
}
