package cluster

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

const testWait = 5 * time.Second // how long a test waits for an event before failing

// logSink collects hclog output so tests can wait for a refusal to be
// logged instead of sleeping.
type logSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newLogSink(t *testing.T) (hclog.Logger, *logSink) {
	s := &logSink{changed: make(chan struct{})}
	l := hclog.New(&hclog.LoggerOptions{Name: t.Name(), Output: s, Level: hclog.Debug})
	return l, s
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor blocks until a logged line contains every one of parts.
func (s *logSink) waitFor(t *testing.T, parts ...string) {
	t.Helper()
	timeout := time.After(testWait)
	for {
		s.mu.Lock()
		ch := s.changed
		for line := range strings.SplitSeq(s.buf.String(), "\n") {
			if containsAll(line, parts) {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timeout:
			t.Fatalf("no log line with %q; log:\n%s", parts, s.String())
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func testKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// testNode is a full transport with a goroutine answering every RPC.
type testNode struct {
	trans *raft.NetworkTransport
	layer *StreamLayer
	log   *logSink
	got   chan raft.RPC // every RPC answered, for assertions
}

func startNode(t *testing.T, id string, key []byte, tlsConf *tls.Config) *testNode {
	t.Helper()
	logger, sink := newLogSink(t)
	trans, layer, err := NewTransport(TransportConfig{
		BindAddr: "127.0.0.1:0", NodeID: id, ClusterKey: key, TLS: tlsConf, Logger: logger,
	})
	if err != nil {
		t.Fatalf("NewTransport(%s): %v", id, err)
	}
	n := &testNode{trans: trans, layer: layer, log: sink, got: make(chan raft.RPC, 16)}
	done := make(chan struct{})
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			select {
			case rpc := <-trans.Consumer():
				rpc.Respond(&raft.AppendEntriesResponse{Term: 7, LastLog: 42, Success: true}, nil)
				n.got <- rpc
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		<-served
		trans.Close()
	})
	return n
}

// appendTo sends one AppendEntries RPC from n to peer.
func (n *testNode) appendTo(peer *testNode, peerID string, data string) (*raft.AppendEntriesResponse, error) {
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ID: []byte("sender"), Addr: []byte(n.trans.LocalAddr())},
		Term:      7,
		Entries:   []*raft.Log{{Index: 42, Term: 7, Type: raft.LogCommand, Data: []byte(data)}},
	}
	var resp raft.AppendEntriesResponse
	err := n.trans.AppendEntries(raft.ServerID(peerID), peer.trans.LocalAddr(), req, &resp)
	return &resp, err
}

// roundTrip checks an AppendEntries from a to b arrives intact and its
// answer comes back.
func roundTrip(t *testing.T, a, b *testNode, bID, data string) {
	t.Helper()
	resp, err := a.appendTo(b, bID, data)
	if err != nil {
		t.Fatalf("AppendEntries to %s: %v", bID, err)
	}
	if !resp.Success || resp.Term != 7 || resp.LastLog != 42 {
		t.Fatalf("response = %+v", resp)
	}
	rpc := <-b.got
	req, ok := rpc.Command.(*raft.AppendEntriesRequest)
	if !ok || len(req.Entries) != 1 || string(req.Entries[0].Data) != data {
		t.Fatalf("peer received %#v", rpc.Command)
	}
}

func assertNoRPC(t *testing.T, n *testNode) {
	t.Helper()
	select {
	case rpc := <-n.got:
		t.Fatalf("an unauthenticated peer reached raft: %#v", rpc.Command)
	default:
	}
}

func TestTransportRoundTripWithKey(t *testing.T) {
	key := testKey(t)
	a := startNode(t, "node-a", key, nil)
	b := startNode(t, "node-b", key, nil)

	for i := range 3 { // the second and third reuse the pooled connection
		roundTrip(t, a, b, "node-b", "entry-"+string(rune('0'+i)))
	}
	roundTrip(t, b, a, "node-a", "reverse")

	id, err := a.layer.VerifyPeer(b.layer.Addr().String(), time.Second)
	if err != nil || id != "node-b" {
		t.Fatalf("VerifyPeer = %q, %v; want node-b", id, err)
	}
	id, err = b.layer.VerifyPeer(string(a.trans.LocalAddr()), time.Second)
	if err != nil || id != "node-a" {
		t.Fatalf("VerifyPeer = %q, %v; want node-a", id, err)
	}
}

func TestTransportWrongKeyRefused(t *testing.T) {
	a := startNode(t, "node-a", testKey(t), nil)
	b := startNode(t, "node-b", testKey(t), nil)

	_, err := a.appendTo(b, "node-b", "x")
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("AppendEntries with the wrong key: err = %v, want ErrHandshake", err)
	}
	// The dialer gives up on b's proof and hangs up; b then fails to
	// read a's and must drop the connection.
	b.log.waitFor(t, "refused raft connection")
	assertNoRPC(t, b)

	if _, err := a.layer.VerifyPeer(b.layer.Addr().String(), time.Second); !errors.Is(err, ErrHandshake) {
		t.Fatalf("VerifyPeer with the wrong key: err = %v, want ErrHandshake", err)
	}
	assertNoRPC(t, b)
}

// newLayer starts a bare stream layer whose Accept the test calls itself.
func newLayer(t *testing.T, cfg TransportConfig) (*StreamLayer, *logSink) {
	t.Helper()
	logger, sink := newLogSink(t)
	cfg.BindAddr, cfg.Logger = "127.0.0.1:0", logger
	s, err := newStreamLayer(cfg)
	if err != nil {
		t.Fatalf("newStreamLayer: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, sink
}

// acceptFrom waits for s.Accept to yield the connection dialed from
// local, failing on any other.
func acceptFrom(t *testing.T, s *StreamLayer, local net.Addr) {
	t.Helper()
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() { c, err := s.Accept(); ch <- result{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Accept: %v", r.err)
		}
		defer r.conn.Close()
		if r.conn.RemoteAddr().String() != local.String() {
			t.Fatalf("Accept yielded the connection from %s, want %s", r.conn.RemoteAddr(), local)
		}
	case <-time.After(testWait):
		t.Fatal("Accept yielded nothing")
	}
}

func TestTransportWrongKeyNeverAccepted(t *testing.T) {
	key := testKey(t)
	srv, log := newLayer(t, TransportConfig{NodeID: "srv", ClusterKey: key})
	bad, _ := newLayer(t, TransportConfig{NodeID: "bad", ClusterKey: testKey(t)})
	good, _ := newLayer(t, TransportConfig{NodeID: "good", ClusterKey: key})

	if _, err := bad.Dial(raft.ServerAddress(srv.Addr().String()), time.Second); !errors.Is(err, ErrHandshake) {
		t.Fatalf("Dial with the wrong key: err = %v, want ErrHandshake", err)
	}
	log.waitFor(t, "refused raft connection")
	conn, err := good.Dial(raft.ServerAddress(srv.Addr().String()), time.Second)
	if err != nil {
		t.Fatalf("Dial with the right key: %v", err)
	}
	defer conn.Close()
	// The first and only connection Accept yields is the good one.
	acceptFrom(t, srv, conn.LocalAddr())
}

func TestTransportRefusesStrangers(t *testing.T) {
	key := testKey(t)
	srv, log := newLayer(t, TransportConfig{NodeID: "srv", ClusterKey: key})
	good, _ := newLayer(t, TransportConfig{NodeID: "good", ClusterKey: key})

	hello := func(version, mode, idLen byte) []byte {
		h := append([]byte(handshakeMagic), version, mode)
		h = append(h, make([]byte, nonceLen)...)
		return append(h, idLen)
	}
	cases := []struct {
		name, send, reason string
	}{
		{"http", "GET / HTTP/1.1\r\nHost: raft\r\n\r\n", "not an OctoStore node"},
		{"tls", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "not an OctoStore node"},
		{"version", string(hello(9, modeKey, 4)) + "evil", "unsupported handshake version"},
		{"no key", string(hello(handshakeVersion, modeTLSOnly, 4)) + "evil", "one side only"},
		{"empty id", string(hello(handshakeVersion, modeKey, 0)), "out of range"},
		{"long id", string(hello(handshakeVersion, modeKey, MaxNodeIDLen+1)) + strings.Repeat("x", MaxNodeIDLen+1), "out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(testWait))
			got, err := io.ReadAll(conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("server kept the stranger's connection open")
			}
			if len(got) != 0 {
				t.Fatalf("server answered a stranger with %q", got)
			}
			log.waitFor(t, "refused raft connection", conn.LocalAddr().String(), tc.reason)
		})
	}

	// A stranger that connects and says nothing holds its handshake
	// open, but a good peer still gets through meanwhile.
	silent, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	conn, err := good.Dial(raft.ServerAddress(srv.Addr().String()), time.Second)
	if err != nil {
		t.Fatalf("good peer while a stranger is silent: %v", err)
	}
	defer conn.Close()
	acceptFrom(t, srv, conn.LocalAddr())
}

func TestTransportSilentPeerTimesOut(t *testing.T) {
	srv, log := newLayer(t, TransportConfig{NodeID: "srv", ClusterKey: testKey(t), handshakeTimeout: 50 * time.Millisecond})
	for _, send := range []string{"", handshakeMagic + "\x01"} { // nothing; a stalled hello
		conn, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
		log.waitFor(t, "refused raft connection", conn.LocalAddr().String(), "timeout")
		conn.SetReadDeadline(time.Now().Add(testWait))
		if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("read after timeout = %d, %v; want the connection closed", n, err)
		}
	}
}

// A stranger without the key must not pass by sending the server's own
// proof back as its answer: the two roles sign different labels.
func TestTransportReflectionRefused(t *testing.T) {
	srv, log := newLayer(t, TransportConfig{NodeID: "srv", ClusterKey: testKey(t)})
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testWait))
	hello := append([]byte(handshakeMagic), handshakeVersion, modeKey)
	hello = append(hello, make([]byte, nonceLen)...)
	hello = append(hello, byte(len("evil")))
	hello = append(hello, "evil"...)
	if _, err := conn.Write(hello); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, helloHeaderLen+len("srv")+macLen)
	if _, err := io.ReadFull(conn, reply); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(reply[len(reply)-macLen:]); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(conn); len(rest) != 0 {
		t.Fatalf("server accepted its own proof reflected back: %x", rest)
	}
	log.waitFor(t, "refused raft connection", conn.LocalAddr().String(), "does not hold the cluster key")
}

// syncBuffer is a bytes.Buffer safe to write from a proxy goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// recordingProxy forwards one TCP connection to target and records what
// the client sent.
func recordingProxy(t *testing.T, target string) (string, *syncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &syncBuffer{}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
	}
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		track(c)
		u, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		track(u)
		wg.Go(func() { io.Copy(u, io.TeeReader(c, rec)); u.Close() })
		io.Copy(c, u)
		c.Close()
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), rec
}

func TestTransportReplayRefused(t *testing.T) {
	key := testKey(t)
	srv, log := newLayer(t, TransportConfig{NodeID: "node-b", ClusterKey: key})
	client, _ := newLayer(t, TransportConfig{NodeID: "node-a", ClusterKey: key})

	proxy, rec := recordingProxy(t, srv.Addr().String())
	accepted := make(chan error, 1)
	go func() {
		c, err := srv.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	id, err := client.VerifyPeer(proxy, time.Second)
	if err != nil || id != "node-b" {
		t.Fatalf("VerifyPeer through the recording proxy = %q, %v", id, err)
	}
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	recorded := rec.Bytes()
	if want := helloHeaderLen + len("node-a") + macLen; len(recorded) != want {
		t.Fatalf("recorded %d handshake bytes, want %d", len(recorded), want)
	}

	replay, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	if _, err := replay.Write(recorded); err != nil {
		t.Fatal(err)
	}
	replay.SetReadDeadline(time.Now().Add(testWait))
	got, _ := io.ReadAll(replay)
	// The server's hello and proof, then a hang-up instead of the accept byte.
	if want := helloHeaderLen + len("node-b") + macLen; len(got) != want {
		t.Fatalf("server sent %d bytes to the replay, want %d (no accept)", len(got), want)
	}
	log.waitFor(t, "refused raft connection", replay.LocalAddr().String(), "does not hold the cluster key")

	good, err := client.Dial(raft.ServerAddress(srv.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	acceptFrom(t, srv, good.LocalAddr())
}

// testCA is a throwaway certificate authority for node certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

var serial int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue signs a node certificate valid until notAfter. Its only SAN is an
// address no test dials, so nothing passes on a host-name match.
func (ca *testCA) issue(t *testing.T, cn string, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-2 * time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("192.0.2.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *testCA) nodeTLS(t *testing.T, cn string) *tls.Config {
	t.Helper()
	return &tls.Config{
		Certificates: []tls.Certificate{ca.issue(t, cn, time.Now().Add(time.Hour))},
		RootCAs:      ca.pool, ClientCAs: ca.pool,
	}
}

// writeNodePEM writes a node's certificate, key and CA for LoadNodeTLS.
func writeNodePEM(t *testing.T, ca *testCA, cn string) (certFile, keyFile, caFile string) {
	t.Helper()
	dir := t.TempDir()
	cert := ca.issue(t, cn, time.Now().Add(time.Hour))
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("node.crt", "CERTIFICATE", cert.Certificate[0]),
		write("node.key", "EC PRIVATE KEY", keyDER),
		write("ca.crt", "CERTIFICATE", ca.cert.Raw)
}

func TestTransportMutualTLS(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	aTLS, err := LoadNodeTLS(writeNodePEM(t, ca, "node-a"))
	if err != nil {
		t.Fatalf("LoadNodeTLS: %v", err)
	}
	a := startNode(t, "node-a", nil, aTLS)
	b := startNode(t, "node-b", nil, ca.nodeTLS(t, "node-b"))

	roundTrip(t, a, b, "node-b", "over tls")
	roundTrip(t, b, a, "node-a", "back over tls")
	id, err := a.layer.VerifyPeer(b.layer.Addr().String(), time.Second)
	if err != nil || id != "node-b" {
		t.Fatalf("VerifyPeer = %q, %v; want node-b", id, err)
	}

	// An empty (non-nil) key is no key.
	d := startNode(t, "node-d", []byte{}, ca.nodeTLS(t, "node-d"))
	roundTrip(t, d, b, "node-b", "empty key")

	// A node that holds a key while its peers rely on TLS alone is a
	// misconfiguration, refused rather than silently downgraded.
	c := startNode(t, "node-c", testKey(t), ca.nodeTLS(t, "node-c"))
	if _, err := c.appendTo(b, "node-b", "x"); !errors.Is(err, ErrHandshake) {
		t.Fatalf("key on one side only: err = %v, want ErrHandshake", err)
	}
	b.log.waitFor(t, "refused raft connection", "one side only")
	assertNoRPC(t, b)
}

func TestTransportMutualTLSWithKey(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	key := testKey(t)
	a := startNode(t, "node-a", key, ca.nodeTLS(t, "node-a"))
	b := startNode(t, "node-b", key, ca.nodeTLS(t, "node-b"))
	roundTrip(t, a, b, "node-b", "tls and key")
	if id, err := b.layer.VerifyPeer(a.layer.Addr().String(), time.Second); err != nil || id != "node-a" {
		t.Fatalf("VerifyPeer = %q, %v; want node-a", id, err)
	}

	// A valid certificate does not make up for the wrong key.
	c := startNode(t, "node-c", testKey(t), ca.nodeTLS(t, "node-c"))
	if _, err := c.appendTo(b, "node-b", "x"); !errors.Is(err, ErrHandshake) {
		t.Fatalf("right cert, wrong key: err = %v, want ErrHandshake", err)
	}
	b.log.waitFor(t, "refused raft connection")
	assertNoRPC(t, b)
	for _, n := range []*testNode{a, b, c} {
		if s := n.log.String(); strings.Contains(s, string(key)) || strings.Contains(s, hex.EncodeToString(key)) {
			t.Fatal("key material in the log")
		}
	}
}

func TestTransportTLSRefusesForeignClientCert(t *testing.T) {
	ca, other := newTestCA(t, "cluster CA"), newTestCA(t, "another CA")
	srv, log := newLayer(t, TransportConfig{NodeID: "srv", TLS: ca.nodeTLS(t, "srv")})
	// The intruder trusts the cluster CA, so only the server's check of
	// the client certificate can refuse it.
	intruderTLS := other.nodeTLS(t, "intruder")
	intruderTLS.RootCAs = ca.pool
	intruder, _ := newLayer(t, TransportConfig{NodeID: "intruder", TLS: intruderTLS})

	if _, err := intruder.VerifyPeer(srv.Addr().String(), time.Second); !errors.Is(err, ErrHandshake) {
		t.Fatalf("client cert from another CA: err = %v, want ErrHandshake", err)
	}
	log.waitFor(t, "refused raft connection", "certificate")

	good, _ := newLayer(t, TransportConfig{NodeID: "good", TLS: ca.nodeTLS(t, "good")})
	conn, err := good.Dial(raft.ServerAddress(srv.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	acceptFrom(t, srv, conn.LocalAddr())
}

func TestTransportTLSRefusesForeignServerCert(t *testing.T) {
	ca, other := newTestCA(t, "cluster CA"), newTestCA(t, "another CA")
	client, _ := newLayer(t, TransportConfig{NodeID: "client", TLS: ca.nodeTLS(t, "client")})

	// The impostors accept the cluster's client certificates, so only the
	// client's check of the server certificate can refuse them.
	both := x509.NewCertPool()
	both.AddCert(ca.cert)
	both.AddCert(other.cert)
	expired := ca.nodeTLS(t, "expired")
	expired.Certificates = []tls.Certificate{ca.issue(t, "expired", time.Now().Add(-time.Hour))}
	impostors := map[string]*tls.Config{"another CA": other.nodeTLS(t, "impostor"), "expired": expired}
	for name, conf := range impostors {
		t.Run(name, func(t *testing.T) {
			conf.ClientCAs = both
			srv, log := newLayer(t, TransportConfig{NodeID: "impostor", TLS: conf})
			_, err := client.VerifyPeer(srv.Addr().String(), time.Second)
			if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("server cert (%s): err = %v, want ErrHandshake", name, err)
			}
			log.waitFor(t, "refused raft connection")
		})
	}
}

func TestTransportTLSRefusesClientWithoutCert(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	srv, log := newLayer(t, TransportConfig{NodeID: "srv", TLS: ca.nodeTLS(t, "srv")})

	raw, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(testWait))
	// The server certificate names no dialed address; this client only
	// wants to show it has none of its own.
	conn := tls.Client(raw, &tls.Config{RootCAs: ca.pool, InsecureSkipVerify: true})
	// TLS 1.3 finishes the client's side before the server has looked at
	// its (missing) certificate; the refusal arrives on the first read.
	conn.Handshake()
	conn.Write([]byte(handshakeMagic))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("a client without a certificate was answered")
	}
	log.waitFor(t, "refused raft connection", raw.LocalAddr().String(), "certificate")

	// Nor may a plain TCP node talk to a TLS one.
	plain, _ := newLayer(t, TransportConfig{NodeID: "plain", ClusterKey: testKey(t)})
	if _, err := plain.VerifyPeer(srv.Addr().String(), time.Second); !errors.Is(err, ErrHandshake) {
		t.Fatalf("plain TCP to a TLS node: err = %v, want ErrHandshake", err)
	}
}

// A node with a valid certificate but not the key must not be able to pass
// off another node's proof as its own by relaying the handshake through
// its own TLS sessions: the proofs are bound to the TLS session.
func TestTransportTLSKeyProofBoundToSession(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	key := testKey(t)
	leader, _ := newLayer(t, TransportConfig{NodeID: "leader", ClusterKey: key, TLS: ca.nodeTLS(t, "leader")})
	victim, _ := newLayer(t, TransportConfig{NodeID: "victim", ClusterKey: key, TLS: ca.nodeTLS(t, "victim")})

	relayTLS := ca.nodeTLS(t, "relay") // valid certificate, no key
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: relayTLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		in, err := ln.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		out, err := tls.Dial("tcp", victim.Addr().String(), &tls.Config{Certificates: relayTLS.Certificates, InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer out.Close()
		wg.Go(func() { io.Copy(out, in); out.Close() })
		io.Copy(in, out)
	})

	id, err := leader.VerifyPeer(ln.Addr().String(), 2*time.Second)
	if !errors.Is(err, ErrHandshake) {
		t.Fatalf("relayed handshake: VerifyPeer = %q, %v; want ErrHandshake", id, err)
	}
}

func TestTransportConfigErrors(t *testing.T) {
	ca := newTestCA(t, "cluster CA")
	noCert := ca.nodeTLS(t, "x")
	noCert.Certificates = nil
	noPool := ca.nodeTLS(t, "x")
	noPool.RootCAs, noPool.ClientCAs = nil, nil
	cases := map[string]TransportConfig{
		"no key":          {NodeID: "a"},
		"short key":       {NodeID: "a", ClusterKey: []byte("secret")},
		"no node ID":      {ClusterKey: testKey(t)},
		"long node ID":    {NodeID: strings.Repeat("a", MaxNodeIDLen+1), ClusterKey: testKey(t)},
		"TLS no cert":     {NodeID: "a", TLS: noCert},
		"TLS no CA":       {NodeID: "a", TLS: noPool},
		"wildcard bind":   {NodeID: "a", ClusterKey: testKey(t), BindAddr: "0.0.0.0:0"},
		"wildcard advert": {NodeID: "a", ClusterKey: testKey(t), Advertise: "0.0.0.0:7001"},
	}
	for name, cfg := range cases {
		if cfg.BindAddr == "" {
			cfg.BindAddr = "127.0.0.1:0"
		}
		trans, _, err := NewTransport(cfg)
		if err == nil {
			trans.Close()
			t.Errorf("%s: NewTransport succeeded", name)
		}
		if got := errors.Is(err, ErrNoNodeAuth); got != (name == "no key") {
			t.Errorf("%s: err = %v; errors.Is(ErrNoNodeAuth) = %v", name, err, got)
		}
	}

	trans, layer, err := NewTransport(TransportConfig{
		BindAddr: "127.0.0.1:0", Advertise: "node-a.internal:7001", NodeID: "a", ClusterKey: testKey(t),
		Logger: hclog.NewNullLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer trans.Close()
	if trans.LocalAddr() != "node-a.internal:7001" || layer.Addr().String() != "node-a.internal:7001" {
		t.Fatalf("advertised %s / %s", trans.LocalAddr(), layer.Addr())
	}
}

// goroutines counts the goroutines whose stack mentions any of frames.
func goroutines(frames ...string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		for _, f := range frames {
			if strings.Contains(g, f) {
				n++
				break
			}
		}
	}
	return n
}

// layerGoroutines counts goroutines running StreamLayer code.
func layerGoroutines() int {
	return goroutines("cluster.(*StreamLayer)", "cluster.newStreamLayer")
}

// waitForGoroutine waits until some goroutine runs frame. Nothing
// signals that an accepted connection reached its handshake, so this
// watches the stacks, yielding rather than sleeping.
func waitForGoroutine(t *testing.T, frame string) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for goroutines(frame) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine in %s", frame)
		}
		runtime.Gosched()
	}
}

func TestTransportClose(t *testing.T) {
	before := layerGoroutines()
	key := testKey(t)
	srv, _ := newLayer(t, TransportConfig{NodeID: "srv", ClusterKey: key})
	// A handshake in flight: a stranger that says nothing.
	silent, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitForGoroutine(t, "(*StreamLayer).serveHandshake")
	// Set before Close: a Close that waits out the handshake deadline
	// instead of aborting the handshake fails the read below.
	silent.SetReadDeadline(time.Now().Add(handshakeTimeout / 2))

	accepted := make(chan error, 1)
	go func() { _, err := srv.Accept(); accepted <- err }()
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-accepted; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked Accept after Close: err = %v, want net.ErrClosed", err)
	}
	if _, err := srv.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: err = %v, want net.ErrClosed", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// Close aborted the stranger's handshake rather than leaving it to
	// its deadline.
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stranger's connection after Close: read err = %v, want closed", err)
	}
	client, _ := newLayer(t, TransportConfig{NodeID: "client", ClusterKey: key})
	if _, err := client.Dial(raft.ServerAddress(srv.Addr().String()), time.Second); err == nil {
		t.Fatal("dial to a closed layer succeeded")
	}
	client.Close()

	// Closing the raft transport closes its stream layer.
	trans, layer, err := NewTransport(TransportConfig{BindAddr: "127.0.0.1:0", NodeID: "n", ClusterKey: key, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	trans.Close()
	if _, err := layer.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after transport Close: err = %v", err)
	}

	// Close waited for every goroutine it started; the last few may still
	// be returning from their deferred calls.
	deadline := time.Now().Add(testWait)
	for layerGoroutines() > before {
		if time.Now().After(deadline) {
			t.Fatalf("stream layer goroutines left after Close: %d, before: %d", layerGoroutines(), before)
		}
		runtime.Gosched()
	}
}
