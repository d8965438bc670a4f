package cluster

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

// The node-to-node handshake. It runs on every Raft connection, in both
// directions, after the TLS handshake when TLS is configured, and before a
// single Raft byte is exchanged. The dialer is the client (C), the
// accepting side the server (S).
//
//	C → S  hello_C
//	S → C  hello_S || mac_S          (mac_S only in key mode)
//	C → S  mac_C                     (only in key mode)
//	S → C  0x01                      (accepted)
//
//	hello   = magic "OCTORAFT" (8) || version 0x01 (1) || mode (1)
//	          || nonce (32, fresh from crypto/rand) || idLen (1, 1..128) || nodeID
//	mode    = 0x01 when a cluster key is configured, 0x00 when TLS alone
//	          authenticates; both sides must agree
//	mac_S   = HMAC-SHA256(key, "octostore raft handshake v1 server" || 0x00 || hello_C || hello_S || ekm)
//	mac_C   = HMAC-SHA256(key, "octostore raft handshake v1 client" || 0x00 || hello_C || hello_S || ekm)
//	ekm     = 32 bytes exported from the TLS session (label
//	          "EXPORTER-octostore-raft-handshake-v1"); empty without TLS
//
// Each MAC covers both nonces, so it answers the other side's fresh
// challenge and a recorded handshake cannot be replayed; it covers both
// node IDs, so the ID a peer sends is the ID it proved; the role label
// keeps a server's proof from being reflected back as a client's; the key
// itself never crosses the wire. Hellos are self-delimiting, so their
// concatenation is unambiguous. Binding the TLS session into the MACs keeps
// a holder of a valid certificate but not the key from relaying another
// node's proof through its own TLS session.
//
// With a key but no TLS the handshake authenticates the endpoints, not the
// stream: the traffic after it is plaintext that an on-path attacker can
// read, alter or relay. Configure TLS wherever the network is not trusted.
// With TLS but no key the proof is the certificate chain to the cluster CA
// on both sides; the node IDs are exchanged but any holder of a valid
// certificate may claim any ID.
//
// Every read is fixed-size (io.ReadFull on the connection itself, never a
// buffered reader), so no Raft byte that follows the handshake is consumed.
const (
	handshakeMagic   = "OCTORAFT"
	handshakeVersion = 1
	modeTLSOnly      = 0
	modeKey          = 1
	nonceLen         = 32
	macLen           = sha256.Size
	helloHeaderLen   = len(handshakeMagic) + 1 + 1 + nonceLen + 1
	ackOK            = 1
	ekmLabel         = "EXPORTER-octostore-raft-handshake-v1"
	serverLabel      = "octostore raft handshake v1 server"
	clientLabel      = "octostore raft handshake v1 client"

	// HelloIDLenOffset is where, in the first bytes a dialling node
	// sends, the length of its node ID is; the ID follows it. Test
	// proxies read it to tell dialers apart.
	HelloIDLenOffset = helloHeaderLen - 1
	// MaxNodeIDLen is the longest node ID the handshake carries: the
	// longest the state accepts.
	MaxNodeIDLen = state.MaxNodeIDLen
	// MinClusterKeyLen is the shortest cluster key accepted: a recorded
	// handshake lets anyone test guesses offline, so the key must be too
	// long to guess.
	MinClusterKeyLen = 16

	// handshakeTimeout bounds a whole handshake (TLS included), so a slow
	// or silent peer holds a goroutine and a socket for at most this long.
	handshakeTimeout = 5 * time.Second
	// maxPendingHandshakes caps the inbound handshakes in flight; a flood
	// of connections beyond it is refused instead of piling up goroutines.
	maxPendingHandshakes = 256
)

var (
	// ErrNoNodeAuth means neither a cluster key nor TLS was configured:
	// the transport would accept Raft traffic from anyone.
	ErrNoNodeAuth = errors.New("cluster transport needs a cluster key or TLS to authenticate nodes")
	// ErrHandshake means a peer failed the node handshake: wrong key,
	// untrusted certificate, not an OctoStore node, or too slow.
	ErrHandshake = errors.New("node handshake failed")
	// ErrTransportClosed is returned by Accept after Close.
	ErrTransportClosed = fmt.Errorf("cluster transport closed: %w", net.ErrClosed)
)

// TransportConfig configures the authenticated TCP transport between nodes.
type TransportConfig struct {
	// BindAddr is the listen address, e.g. 127.0.0.1:7001.
	BindAddr string
	// Advertise is the address peers dial; empty means the listener's
	// actual address, which must then not be a wildcard.
	Advertise string
	// NodeID is this node's Raft server ID, proven in the handshake.
	NodeID string
	// ClusterKey is the secret every node shares (at least
	// MinClusterKeyLen bytes). Nil or empty means none, and TLS must then
	// be set; every node must agree on whether a key is used.
	ClusterKey []byte
	// TLS enables mutual TLS for node traffic; nil means plain TCP. It
	// must hold Certificates and a RootCAs or ClientCAs pool with the CA
	// that signs every node's certificate (see LoadNodeTLS).
	TLS *tls.Config
	// Logger receives refused connections at warn; nil means stderr.
	Logger hclog.Logger

	// handshakeTimeout overrides the handshake bound in tests.
	handshakeTimeout time.Duration
}

// NewTransport listens on cfg.BindAddr and returns a Raft transport whose
// every connection, inbound and outbound, has passed the node handshake,
// plus the stream layer under it (for VerifyPeer). Closing the transport
// closes the stream layer.
func NewTransport(cfg TransportConfig) (*raft.NetworkTransport, *StreamLayer, error) {
	if cfg.Logger == nil {
		// The same default raft would pick, so both log to one place.
		cfg.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: hclog.DefaultOutput, Level: hclog.DefaultLevel})
	}
	layer, err := newStreamLayer(cfg)
	if err != nil {
		return nil, nil, err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  cfg.Logger,
	})
	return trans, layer, nil
}

// StreamLayer is a raft.StreamLayer over TCP (optionally TLS) that runs the
// node handshake on every connection.
type StreamLayer struct {
	ln        net.Listener
	advertise net.Addr
	nodeID    string
	key       []byte      // nil when TLS alone authenticates
	serverTLS *tls.Config // nil without TLS
	clientTLS *tls.Config
	log       hclog.Logger

	// handshakeTimeout is handshakeTimeout except in tests.
	handshakeTimeout time.Duration

	ready     chan net.Conn   // authenticated inbound conns, unbuffered
	pending   chan struct{}   // semaphore of inbound handshakes in flight
	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// newStreamLayer validates cfg, listens, and starts accepting.
func newStreamLayer(cfg TransportConfig) (*StreamLayer, error) {
	if err := validateTransportConfig(cfg); err != nil {
		return nil, err
	}
	s := &StreamLayer{
		nodeID:           cfg.NodeID,
		log:              cfg.Logger,
		handshakeTimeout: handshakeTimeout,
		ready:            make(chan net.Conn),
		pending:          make(chan struct{}, maxPendingHandshakes),
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if cfg.handshakeTimeout > 0 {
		s.handshakeTimeout = cfg.handshakeTimeout
	}
	if len(cfg.ClusterKey) > 0 {
		// A copy, so the caller cannot change the key under a running
		// transport; an empty key stays nil and means TLS alone.
		s.key = bytes.Clone(cfg.ClusterKey)
	}
	if cfg.TLS != nil {
		s.serverTLS, s.clientTLS = nodeTLSConfigs(cfg.TLS)
	}
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", cfg.BindAddr, err)
	}
	s.advertise, err = advertiseAddr(cfg.Advertise, ln.Addr())
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.acceptLoop() }()
	return s, nil
}

func validateTransportConfig(cfg TransportConfig) error {
	if len(cfg.ClusterKey) == 0 && cfg.TLS == nil {
		return ErrNoNodeAuth
	}
	if len(cfg.ClusterKey) > 0 && len(cfg.ClusterKey) < MinClusterKeyLen {
		return fmt.Errorf("cluster key is %d bytes; it must be at least %d", len(cfg.ClusterKey), MinClusterKeyLen)
	}
	if cfg.NodeID == "" || len(cfg.NodeID) > MaxNodeIDLen {
		return fmt.Errorf("node ID must be 1 to %d bytes, got %d", MaxNodeIDLen, len(cfg.NodeID))
	}
	if cfg.TLS != nil {
		if len(cfg.TLS.Certificates) == 0 {
			return errors.New("node TLS config has no certificate")
		}
		// A nil pool would make crypto/tls fall back to the system roots,
		// trusting every public CA's certificates as cluster nodes.
		if cfg.TLS.RootCAs == nil && cfg.TLS.ClientCAs == nil {
			return errors.New("node TLS config has no CA pool")
		}
	}
	return nil
}

// advertiseAddr picks the address peers are told to dial.
func advertiseAddr(advertise string, bound net.Addr) (net.Addr, error) {
	if advertise == "" {
		if tcp, ok := bound.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
			return nil, fmt.Errorf("raft bind address %s is not advertisable: set the advertise address", bound)
		}
		return bound, nil
	}
	host, _, err := net.SplitHostPort(advertise)
	if err != nil {
		return nil, fmt.Errorf("raft advertise address %q: %w", advertise, err)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return nil, fmt.Errorf("raft advertise address %s is a wildcard", advertise)
	}
	return tcpAddrString(advertise), nil
}

// tcpAddrString is an advertised address that may be a host name.
type tcpAddrString string

func (a tcpAddrString) Network() string { return "tcp" }
func (a tcpAddrString) String() string  { return string(a) }

// Accept returns the next inbound connection that passed the handshake.
// Handshakes run concurrently, so a slow peer never delays another.
func (s *StreamLayer) Accept() (net.Conn, error) {
	// Checked first so that Accept after Close fails even when a
	// handshake finishes at the same moment.
	if s.ctx.Err() != nil {
		return nil, ErrTransportClosed
	}
	select {
	case conn := <-s.ready:
		return conn, nil
	case <-s.ctx.Done():
		return nil, ErrTransportClosed
	}
}

// Close stops listening, aborts the handshakes in flight and waits for
// their goroutines. Connections already handed out stay open: they belong
// to raft. Close is idempotent.
func (s *StreamLayer) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		s.closeErr = s.ln.Close()
		s.wg.Wait()
	})
	return s.closeErr
}

// Addr returns the advertised address.
func (s *StreamLayer) Addr() net.Addr { return s.advertise }

// Dial connects to a peer and completes the handshake; the connection
// returned is authenticated. timeout bounds connecting and handshaking
// together.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	conn, _, err := s.dial(string(address), timeout)
	return conn, err
}

// VerifyPeer dials address, completes the handshake, and returns the node
// ID the peer proved. The leader uses it to check a join request: does the
// node at this address hold our key or certificate, and is it the ID it
// claims? The connection is closed afterwards.
func (s *StreamLayer) VerifyPeer(address string, timeout time.Duration) (nodeID string, err error) {
	conn, id, err := s.dial(address, timeout)
	if err != nil {
		return "", err
	}
	conn.Close()
	return id, nil
}

func (s *StreamLayer) dial(address string, timeout time.Duration) (net.Conn, string, error) {
	start := time.Now()
	d := net.Dialer{Timeout: timeout}
	raw, err := d.Dial("tcp", address)
	if err != nil {
		return nil, "", err
	}
	deadline := time.Now().Add(s.handshakeTimeout)
	if timeout > 0 && start.Add(timeout).Before(deadline) {
		deadline = start.Add(timeout)
	}
	conn, id, err := s.clientHandshake(raw, deadline)
	if err != nil {
		raw.Close()
		return nil, "", fmt.Errorf("raft peer %s: %w", address, err)
	}
	return conn, id, nil
}

// clientHandshake runs the dialer's side on raw, wrapping it in TLS first
// when configured, and returns the connection to hand to raft.
func (s *StreamLayer) clientHandshake(raw net.Conn, deadline time.Time) (net.Conn, string, error) {
	if err := raw.SetDeadline(deadline); err != nil {
		return nil, "", err
	}
	conn := raw
	var ekm []byte
	if s.clientTLS != nil {
		tc := tls.Client(raw, s.clientTLS)
		if err := tc.Handshake(); err != nil {
			return nil, "", fmt.Errorf("%w: tls: %w", ErrHandshake, err)
		}
		var err error
		if ekm, err = exportKeyingMaterial(tc); err != nil {
			return nil, "", err
		}
		conn = tc
	}
	id, err := s.clientExchange(conn, ekm)
	if err != nil {
		return nil, "", err
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, "", err
	}
	return conn, id, nil
}

func (s *StreamLayer) clientExchange(conn net.Conn, ekm []byte) (string, error) {
	helloC, err := s.newHello()
	if err != nil {
		return "", err
	}
	if _, err := conn.Write(helloC); err != nil {
		return "", fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	helloS, peerID, err := s.readHello(conn)
	if err != nil {
		return "", err
	}
	if s.key != nil {
		if err := s.checkMAC(conn, serverLabel, helloC, helloS, ekm); err != nil {
			return "", err
		}
		if _, err := conn.Write(s.mac(clientLabel, helloC, helloS, ekm)); err != nil {
			return "", fmt.Errorf("%w: %w", ErrHandshake, err)
		}
	}
	// Waiting for the verdict makes a refusal (wrong key, a certificate
	// TLS 1.3 checks only after the client finished) fail the dial rather
	// than the first RPC.
	var ack [1]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		return "", fmt.Errorf("%w: refused by peer: %w", ErrHandshake, err)
	}
	if ack[0] != ackOK {
		return "", fmt.Errorf("%w: refused by peer", ErrHandshake)
	}
	return peerID, nil
}

// acceptLoop hands every inbound connection to its own handshake
// goroutine, so one slow peer never blocks the next.
func (s *StreamLayer) acceptLoop() {
	const baseDelay, maxDelay = 5 * time.Millisecond, time.Second
	var delay time.Duration
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, as
			// net/http does, instead of spinning.
			delay = min(max(2*delay, baseDelay), maxDelay)
			s.log.Error("failed to accept raft connection", "error", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(delay):
			}
			continue
		}
		delay = 0
		select {
		case s.pending <- struct{}{}:
		default:
			s.log.Warn("refused raft connection: too many handshakes in flight", "remote", conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.pending }()
			s.serveHandshake(conn)
		}()
	}
}

// serveHandshake authenticates one inbound connection and hands it to
// Accept, or logs and closes it.
func (s *StreamLayer) serveHandshake(raw net.Conn) {
	// Close aborts the handshake at once instead of waiting out the
	// deadline.
	stop := context.AfterFunc(s.ctx, func() { raw.Close() })
	conn, err := s.serverHandshake(raw)
	if !stop() {
		if conn != nil {
			conn.Close()
		}
		return
	}
	if err != nil {
		// The remote address only: never key material, nor the ID the
		// peer claimed, which is unauthenticated input.
		s.log.Warn("refused raft connection", "remote", raw.RemoteAddr().String(), "error", err)
		raw.Close()
		return
	}
	select {
	case s.ready <- conn:
	case <-s.ctx.Done():
		conn.Close()
	}
}

func (s *StreamLayer) serverHandshake(raw net.Conn) (net.Conn, error) {
	if err := raw.SetDeadline(time.Now().Add(s.handshakeTimeout)); err != nil {
		return nil, err
	}
	conn := raw
	var ekm []byte
	if s.serverTLS != nil {
		tc := tls.Server(raw, s.serverTLS)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("%w: tls: %w", ErrHandshake, err)
		}
		var err error
		if ekm, err = exportKeyingMaterial(tc); err != nil {
			return nil, err
		}
		conn = tc
	}
	if err := s.serverExchange(conn, ekm); err != nil {
		return nil, err
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return conn, nil
}

func (s *StreamLayer) serverExchange(conn net.Conn, ekm []byte) error {
	helloC, _, err := s.readHello(conn)
	if err != nil {
		return err
	}
	helloS, err := s.newHello()
	if err != nil {
		return err
	}
	reply := helloS
	if s.key != nil {
		reply = append(reply, s.mac(serverLabel, helloC, helloS, ekm)...)
	}
	if _, err := conn.Write(reply); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if s.key != nil {
		if err := s.checkMAC(conn, clientLabel, helloC, helloS, ekm); err != nil {
			return err
		}
	}
	if _, err := conn.Write([]byte{ackOK}); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	return nil
}

// newHello builds this side's hello with a fresh nonce.
func (s *StreamLayer) newHello() ([]byte, error) {
	h := make([]byte, helloHeaderLen, helloHeaderLen+len(s.nodeID)+macLen)
	copy(h, handshakeMagic)
	h[len(handshakeMagic)] = handshakeVersion
	h[len(handshakeMagic)+1] = s.mode()
	if _, err := rand.Read(h[len(handshakeMagic)+2 : helloHeaderLen-1]); err != nil {
		return nil, err
	}
	h[helloHeaderLen-1] = byte(len(s.nodeID))
	return append(h, s.nodeID...), nil
}

// readHello reads and checks the peer's hello, returning its exact bytes
// (for the MACs) and the node ID it carries.
func (s *StreamLayer) readHello(r io.Reader) ([]byte, string, error) {
	h := make([]byte, helloHeaderLen, helloHeaderLen+MaxNodeIDLen)
	// The magic and version come first on their own, so a stranger
	// speaking another protocol is dropped after its first few bytes.
	prefix := len(handshakeMagic) + 1
	if _, err := io.ReadFull(r, h[:prefix]); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if string(h[:len(handshakeMagic)]) != handshakeMagic {
		return nil, "", fmt.Errorf("%w: not an OctoStore node", ErrHandshake)
	}
	if h[len(handshakeMagic)] != handshakeVersion {
		return nil, "", fmt.Errorf("%w: unsupported handshake version %d", ErrHandshake, h[len(handshakeMagic)])
	}
	if _, err := io.ReadFull(r, h[prefix:]); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if h[prefix] != s.mode() {
		return nil, "", fmt.Errorf("%w: cluster key configured on one side only", ErrHandshake)
	}
	n := int(h[helloHeaderLen-1])
	if n == 0 || n > MaxNodeIDLen {
		return nil, "", fmt.Errorf("%w: node ID length %d out of range", ErrHandshake, n)
	}
	h = h[:helloHeaderLen+n]
	if _, err := io.ReadFull(r, h[helloHeaderLen:]); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	return h, string(h[helloHeaderLen:]), nil
}

func (s *StreamLayer) mode() byte {
	if s.key != nil {
		return modeKey
	}
	return modeTLSOnly
}

// mac is the proof of the key for one role over the whole exchange.
func (s *StreamLayer) mac(label string, helloC, helloS, ekm []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(label))
	m.Write([]byte{0})
	m.Write(helloC)
	m.Write(helloS)
	m.Write(ekm)
	return m.Sum(nil)
}

// checkMAC reads the peer's proof and compares it in constant time.
func (s *StreamLayer) checkMAC(r io.Reader, label string, helloC, helloS, ekm []byte) error {
	got := make([]byte, macLen)
	if _, err := io.ReadFull(r, got); err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	if !hmac.Equal(got, s.mac(label, helloC, helloS, ekm)) {
		return fmt.Errorf("%w: peer does not hold the cluster key", ErrHandshake)
	}
	return nil
}
