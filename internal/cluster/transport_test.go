package cluster

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/testpki"
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
	trans raft.Transport
	layer *StreamLayer
	log   *logSink
	got   chan raft.RPC // every RPC answered, for assertions
}

func startNode(t *testing.T, cfg TransportConfig) *testNode {
	t.Helper()
	logger, sink := newLogSink(t)
	cfg.BindAddr, cfg.Logger = "127.0.0.1:0", logger
	trans, layer, err := NewTransport(cfg)
	if err != nil {
		t.Fatalf("NewTransport(%s): %v", cfg.NodeID, err)
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
		closeTransport(trans)
	})
	return n
}

// appendTo sends one AppendEntries RPC from n to peer.
func (n *testNode) appendTo(peer *testNode, peerID string, data string) (*raft.AppendEntriesResponse, error) {
	return n.appendAt(string(peer.trans.LocalAddr()), peerID, data)
}

// appendAt sends one AppendEntries RPC from n to node peerID at addr.
func (n *testNode) appendAt(addr, peerID string, data string) (*raft.AppendEntriesResponse, error) {
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ID: []byte("sender"), Addr: []byte(n.trans.LocalAddr())},
		Term:      7,
		Entries:   []*raft.Log{{Index: 42, Term: 7, Type: raft.LogCommand, Data: []byte(data)}},
	}
	var resp raft.AppendEntriesResponse
	err := n.trans.AppendEntries(raft.ServerID(peerID), raft.ServerAddress(addr), req, &resp)
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

// writeNodePEM writes node cn's certificate from ca, its key and the CA.
func writeNodePEM(t *testing.T, ca *testpki.CA, cn string) NodeCerts {
	t.Helper()
	cert, key, caFile := ca.WriteNode(t, cn)
	return NodeCerts{CertFile: cert, KeyFile: key, CAFile: caFile}
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
	waitForGoroutine(t, "(*StreamLayer).handshake")
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
	if _, err := client.Dial(peerTarget("srv", raft.ServerAddress(srv.Addr().String())), time.Second); err == nil {
		t.Fatal("dial to a closed layer succeeded")
	}
	client.Close()

	// Closing the raft transport closes its stream layer.
	trans, layer, err := NewTransport(TransportConfig{BindAddr: "127.0.0.1:0", NodeID: "n", ClusterKey: key, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	closeTransport(trans)
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

func TestTransport_RoundTrip(t *testing.T) {
	t.Run("ClusterKey", func(t *testing.T) {
		key := testKey(t)
		a := startNode(t, TransportConfig{NodeID: "a", ClusterKey: key})
		b := startNode(t, TransportConfig{NodeID: "b", ClusterKey: key})
		roundTrip(t, a, b, "b", "hello b")
		roundTrip(t, b, a, "a", "hello a")
	})
	t.Run("OperatorCA", func(t *testing.T) {
		ca := testpki.NewCA(t, "cluster CA")
		certs := writeNodePEM(t, ca, "node-b")
		a := startNode(t, TransportConfig{NodeID: "node-a", Certs: ptr(writeNodePEM(t, ca, "node-a"))})
		b := startNode(t, TransportConfig{Certs: &certs}) // the certificate names the node
		if b.layer.id.nodeID != "node-b" {
			t.Fatalf("node ID from the certificate = %q", b.layer.id.nodeID)
		}
		roundTrip(t, a, b, "node-b", "hello b")
		roundTrip(t, b, a, "node-a", "hello a")
	})
}

func ptr[T any](v T) *T { return &v }

// The dialer accepts only the node it means: a member answering at an
// address raft holds for another node is refused before any RPC.
func TestTransport_DialerChecksNodeID(t *testing.T) {
	key := testKey(t)
	a := startNode(t, TransportConfig{NodeID: "a", ClusterKey: key})
	b := startNode(t, TransportConfig{NodeID: "b", ClusterKey: key})
	if _, err := a.appendTo(b, "c", "for c"); err == nil || !strings.Contains(err.Error(), `peer is node "b", not "c"`) {
		t.Fatalf("AppendEntries to c at b's address: err = %v, want the node-ID refusal", err)
	}
	assertNoRPC(t, b)
}

// Every way in without a certificate from this cluster's CA is refused on
// the Raft port, and raft never sees a byte of it.
func TestTransport_RefusesStrangers(t *testing.T) {
	key := testKey(t)
	srv := startNode(t, TransportConfig{NodeID: "srv", ClusterKey: key})
	otherCluster := startNode(t, TransportConfig{NodeID: "intruder", ClusterKey: testKey(t)})
	ca := testpki.NewCA(t, "some CA")
	foreignCA := startNode(t, TransportConfig{NodeID: "intruder2", Certs: ptr(writeNodePEM(t, ca, "intruder2"))})

	t.Run("RawTCP", func(t *testing.T) {
		conn, err := net.Dial("tcp", string(srv.trans.LocalAddr()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// A raft AppendEntries frame as NetworkTransport writes it: the
		// RPC type byte, then msgpack. TLS refuses it as a record.
		conn.Write([]byte{0, 0x85, 0xa4, 'T', 'e', 'r', 'm', 7})
		conn.SetReadDeadline(time.Now().Add(testWait))
		io.Copy(io.Discard, conn) // until the server closes it
		srv.log.waitFor(t, "refused node connection", conn.LocalAddr().String())
	})
	t.Run("TLSWithoutCertificate", func(t *testing.T) {
		conn, err := tls.Dial("tcp", string(srv.trans.LocalAddr()), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{protoRaft}})
		if err == nil {
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(testWait))
			_, err = conn.Read(make([]byte, 1)) // TLS 1.3: the refusal comes after the client's Finished
		}
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("TLS without a client certificate: err = %v, want a certificate alert", err)
		}
	})
	for name, from := range map[string]*testNode{"OtherClusterKey": otherCluster, "ForeignCA": foreignCA} {
		t.Run(name, func(t *testing.T) {
			if _, err := from.appendTo(srv, "srv", "injected"); err == nil {
				t.Fatal("AppendEntries from outside the cluster succeeded")
			}
			srv.log.waitFor(t, "refused node connection")
		})
	}
	assertNoRPC(t, srv)
}

// A relay between two members passes their TLS through but cannot speak
// in it: bytes it injects break the record layer, and the member drops the
// connection rather than deliver anything to raft.
func TestTransport_RelayCannotInject(t *testing.T) {
	key := testKey(t)
	a := startNode(t, TransportConfig{NodeID: "a", ClusterKey: key})
	b := startNode(t, TransportConfig{NodeID: "b", ClusterKey: key})
	relay := newInjectingRelay(t, string(b.trans.LocalAddr()))
	// a dials b through the relay, as if the network put it there.
	if _, err := a.appendAt(relay.addr, "b", "genuine"); err != nil {
		t.Fatalf("AppendEntries through a passive relay: %v", err)
	}
	<-b.got
	relay.inject.Store(true)
	if _, err := a.appendAt(relay.addr, "b", "second"); err == nil {
		t.Fatal("an AppendEntries went through a relay that injected bytes")
	}
	assertNoRPC(t, b)
}

// injectingRelay splices connections to target and, once inject is set,
// writes forged bytes into the client-to-target direction after the
// first chunk that follows the handshake.
type injectingRelay struct {
	addr   string
	inject atomic.Bool
}

func newInjectingRelay(t *testing.T, target string) *injectingRelay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &injectingRelay{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go r.splice(c, target)
		}
	}()
	return r
}

func (r *injectingRelay) splice(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(c, s)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			out := buf[:n]
			// A TLS application-data record header and a forged body:
			// what an attacker would need the session keys to make valid.
			if r.inject.Load() && buf[0] == 23 {
				out = append([]byte{23, 3, 3, 0, 8, 0, 0x85, 0xa4, 'T', 'e', 'r', 'm', 9}, out...)
			}
			if _, err := s.Write(out); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestTransport_SilentPeerTimesOut(t *testing.T) {
	srv, log := newLayer(t, TransportConfig{NodeID: "srv", ClusterKey: testKey(t), handshakeTimeout: 50 * time.Millisecond})
	for _, send := range []string{"", "\x16\x03\x01"} { // nothing; a stalled ClientHello
		conn, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
		log.waitFor(t, "refused node connection", conn.LocalAddr().String())
		conn.SetReadDeadline(time.Now().Add(testWait))
		if _, err := io.Copy(io.Discard, conn); err != nil {
			t.Fatalf("read after timeout: %v; want the connection closed", err)
		}
	}
}

func TestTransport_ConfigErrors(t *testing.T) {
	ca := testpki.NewCA(t, "cluster CA")
	certs := writeNodePEM(t, ca, "n1")
	other := testpki.NewCA(t, "other CA")
	mismatched := writeNodePEM(t, other, "n1")
	mismatched.CAFile = certs.CAFile // a certificate its CA did not sign
	cases := map[string]struct {
		cfg  TransportConfig
		want string
	}{
		"Nothing":        {TransportConfig{NodeID: "n1"}, "needs a cluster key or node certificates"},
		"Both":           {TransportConfig{NodeID: "n1", ClusterKey: testKey(t), Certs: &certs}, "not both"},
		"ShortKey":       {TransportConfig{NodeID: "n1", ClusterKey: []byte("short")}, "at least 16"},
		"BadNodeID":      {TransportConfig{NodeID: "n1@evil", ClusterKey: testKey(t)}, "node ID"},
		"CertNamesOther": {TransportConfig{NodeID: "n2", Certs: &certs}, `names node "n1"`},
		"UnsignedCert":   {TransportConfig{NodeID: "n1", Certs: &mismatched}, "not valid under the cluster CA"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tc.cfg.BindAddr = "127.0.0.1:0"
			_, _, err := NewTransport(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Every node derives the same CA from the key, byte for byte, and a
// different key gives a different CA.
func TestIdentity_KeyDerivation(t *testing.T) {
	key := testKey(t)
	ca1, _, err := deriveCA(key)
	if err != nil {
		t.Fatal(err)
	}
	ca2, _, _ := deriveCA(bytes.Clone(key))
	if !bytes.Equal(ca1.Raw, ca2.Raw) {
		t.Fatal("the same key derived two different CA certificates")
	}
	ca3, _, _ := deriveCA(testKey(t))
	if bytes.Equal(ca1.PublicKey.(ed25519.PublicKey), ca3.PublicKey.(ed25519.PublicKey)) {
		t.Fatal("two keys derived the same CA key")
	}
	id, err := keyIdentity(key, "n1")
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := id.certificate()
	if leaf.Leaf.Subject.CommonName != "n1" || time.Until(leaf.Leaf.NotAfter) > leafLifetime {
		t.Fatalf("leaf names %q, valid until %v", leaf.Leaf.Subject.CommonName, leaf.Leaf.NotAfter)
	}
	// A leaf past half its life is replaced on the next handshake.
	id.leaf.Leaf.NotAfter = time.Now().Add(leafLifetime/2 - time.Minute)
	renewed, _ := id.certificate()
	if renewed == leaf || renewed.Leaf.SerialNumber.Cmp(leaf.Leaf.SerialNumber) == 0 {
		t.Fatal("an aging leaf was not reissued")
	}
}

// TestHeartbeatGate: closing waits for a heartbeat in progress, and a
// later one is refused without reaching raft, so the log store can close.
func TestHeartbeatGate(t *testing.T) {
	g := &heartbeatGate{}
	entered, release := make(chan struct{}), make(chan struct{})
	calls := 0
	handler := g.wrap(func(raft.RPC) {
		calls++
		close(entered)
		<-release
	})
	go handler(raft.RPC{RespChan: make(chan raft.RPCResponse, 1)})
	<-entered
	closed := make(chan struct{})
	go func() { g.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close returned while a heartbeat was being handled")
	default:
	}
	close(release)
	<-closed
	resp := make(chan raft.RPCResponse, 1)
	handler(raft.RPC{RespChan: resp})
	if r := <-resp; !errors.Is(r.Error, raft.ErrRaftShutdown) || calls != 1 {
		t.Fatalf("after close: %v, %d calls reached raft", r.Error, calls)
	}
}

// TestIdentity_DialerVerifiesThePeer: the dialer skips only Go's host-name
// check (peers are dialled by address; certificates name node IDs) and
// verifies the rest itself on every handshake. An impostor answering as
// the node it means, with a certificate from another cluster's CA or from
// an operator CA this cluster does not trust, is refused; the real node
// is accepted.
func TestIdentity_DialerVerifiesThePeer(t *testing.T) {
	key := testKey(t)
	dialer, err := keyIdentity(key, "a")
	if err != nil {
		t.Fatal(err)
	}
	real, _ := keyIdentity(key, "b")
	otherCluster, _ := keyIdentity(testKey(t), "b")
	foreign, err := fileIdentity(writeNodePEM(t, testpki.NewCA(t, "foreign CA"), "b"), "b")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		peer *identity
		ok   bool
	}{"TheNodeItMeans": {real, true}, "OtherClusterKey": {otherCluster, false}, "UntrustedCA": {foreign, false}} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0") // a kernel buffer: a refusal must not wait on the other side
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				if sc, err := ln.Accept(); err == nil {
					defer sc.Close()
					tls.Server(sc, c.peer.serverConfig([]string{protoRaft})).Handshake()
				}
			}()
			cc, err := net.DialTimeout("tcp", ln.Addr().String(), testWait)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			cc.SetDeadline(time.Now().Add(testWait))
			err = tls.Client(cc, dialer.clientConfig(protoRaft, "b")).Handshake()
			if c.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "peer certificate") {
				t.Fatalf("handshake with %s: err = %v", name, err)
			}
		})
	}
}
