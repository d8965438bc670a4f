package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// The node channel. Every connection between two nodes — Raft RPCs,
// snapshot transfer, a node asking to join, a client request a follower
// forwards to the leader — is mutual TLS 1.3 on the Raft port, with the
// cluster CA as the only trusted root. ALPN names what the connection is
// for, so one port serves them all and a connection opened for one purpose
// can never be used for another. The dialer always knows which node it
// wants (the Raft configuration pairs IDs with addresses) and accepts only
// a certificate naming that node; the acceptor learns who dialled from the
// certificate. Nothing is spoken before TLS, and no address, ID or name a
// peer sends is trusted before it is proven.
const (
	protoRaft = "octostore-raft/1"
	protoJoin = "octostore-join/1"
	protoHTTP = "octostore-http/1"

	// handshakeTimeout bounds a whole TLS handshake, so a slow or silent
	// peer holds a goroutine and a socket for at most this long.
	handshakeTimeout = 5 * time.Second
	// maxPendingHandshakes caps the inbound handshakes in flight; a flood
	// of connections beyond it is refused instead of piling up goroutines.
	maxPendingHandshakes = 256
)

var (
	// ErrHandshake means a peer failed the node handshake: no certificate,
	// one from another cluster, the wrong node, or too slow.
	ErrHandshake = errors.New("node handshake failed")
	// ErrTransportClosed is returned by Accept after Close.
	ErrTransportClosed = fmt.Errorf("cluster transport closed: %w", net.ErrClosed)
)

// TransportConfig configures the node channel.
type TransportConfig struct {
	// BindAddr is the listen address, e.g. 127.0.0.1:7001. When it names a
	// specific IP, this node also dials its peers from that IP.
	BindAddr string
	// Advertise is the address peers dial; empty means the listener's
	// actual address, which must then not be a wildcard.
	Advertise string
	// NodeID is this node's Raft server ID, named by its certificate.
	NodeID string
	// ClusterKey (at least MinClusterKeyLen bytes) or Certs gives this
	// node its certificate; exactly one must be set.
	ClusterKey []byte
	Certs      *NodeCerts
	// Logger receives refused connections at warn; nil means stderr.
	Logger hclog.Logger

	// handshakeTimeout overrides the handshake bound in tests.
	handshakeTimeout time.Duration
}

// NewTransport listens on cfg.BindAddr and returns a Raft transport whose
// every connection is mutual TLS between cluster members, plus the stream
// layer under it. Closing the transport closes the stream layer.
func NewTransport(cfg TransportConfig) (raft.Transport, *StreamLayer, error) {
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
	return nodeTransport{NetworkTransport: trans, heartbeats: &heartbeatGate{}}, layer, nil
}

// newIdentity builds the node's identity from whichever source is set.
func newIdentity(cfg TransportConfig) (*identity, error) {
	switch {
	case len(cfg.ClusterKey) > 0 && cfg.Certs != nil:
		return nil, ErrBothNodeAuth
	case cfg.Certs != nil:
		return fileIdentity(*cfg.Certs, cfg.NodeID)
	case len(cfg.ClusterKey) > 0:
		if !ValidNodeID(cfg.NodeID) {
			return nil, fmt.Errorf("node ID %q: a clustered node's ID is 1 to %d of A-Z a-z 0-9 . _ -", cfg.NodeID, MaxNodeIDLen)
		}
		return keyIdentity(cfg.ClusterKey, cfg.NodeID)
	}
	return nil, ErrNoNodeAuth
}

// StreamLayer is the node channel's listener and dialer: a
// raft.StreamLayer for Raft connections, which also hands forwarded HTTP
// connections to an http.Server and join requests to the node.
type StreamLayer struct {
	ln        net.Listener
	advertise net.Addr
	source    net.IP // dial from here; nil for the system's choice
	id        *identity
	serverTLS *tls.Config
	log       hclog.Logger

	// handshakeTimeout is handshakeTimeout except in tests.
	handshakeTimeout time.Duration

	raftConns chan net.Conn // authenticated inbound Raft conns, unbuffered
	httpLn    *connListener
	joins     atomic.Pointer[joinHandler]
	pending   chan struct{}   // semaphore of inbound handshakes in flight
	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup
}

// joinHandler answers a join request from an authenticated node.
type joinHandler func(conn *tls.Conn, peerID string)

var _ raft.StreamLayer = (*StreamLayer)(nil)

// newStreamLayer builds the identity, listens, and starts accepting.
func newStreamLayer(cfg TransportConfig) (*StreamLayer, error) {
	id, err := newIdentity(cfg)
	if err != nil {
		return nil, err
	}
	s := &StreamLayer{
		id:               id,
		serverTLS:        id.serverConfig([]string{protoRaft, protoHTTP, protoJoin}),
		log:              cfg.Logger,
		handshakeTimeout: handshakeTimeout,
		raftConns:        make(chan net.Conn),
		pending:          make(chan struct{}, maxPendingHandshakes),
	}
	if cfg.handshakeTimeout > 0 {
		s.handshakeTimeout = cfg.handshakeTimeout
	}
	ln, err := net.Listen("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("listen for raft on %s: %w", cfg.BindAddr, err)
	}
	if s.advertise, err = advertiseAddr(cfg.Advertise, ln.Addr()); err != nil {
		ln.Close()
		return nil, err
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() {
		s.source = tcp.IP
	}
	s.ln = ln
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.httpLn = &connListener{conns: make(chan net.Conn), done: make(chan struct{}), stop: s.ctx.Done(), addr: s.advertise}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.acceptLoop() }()
	return s, nil
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

// Accept returns the next inbound Raft connection.
func (s *StreamLayer) Accept() (net.Conn, error) {
	// Checked first so that Accept after Close fails even when a
	// handshake finishes at the same moment.
	if s.ctx.Err() != nil {
		return nil, ErrTransportClosed
	}
	select {
	case conn := <-s.raftConns:
		return conn, nil
	case <-s.ctx.Done():
		return nil, ErrTransportClosed
	}
}

// Close stops listening, aborts the handshakes in flight and waits for
// their goroutines. Connections already handed out stay open: they belong
// to raft or the HTTP server. Close is idempotent.
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

// Dial opens a Raft connection to the node that address names (see
// peerTarget); the peer must prove it is that node.
func (s *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id, addr, ok := strings.Cut(string(address), "@")
	if !ok {
		return nil, fmt.Errorf("raft target %q names no node", address)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dial(ctx, addr, id, protoRaft)
}

// HTTPListener yields the connections on which other nodes forward client
// requests; serve the API on it.
func (s *StreamLayer) HTTPListener() net.Listener { return s.httpLn }

// dial connects to addr for proto and completes the handshake; the peer
// must name node want, or be any member when want is empty.
func (s *StreamLayer) dial(ctx context.Context, addr, want, proto string) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.handshakeTimeout)
	defer cancel()
	raw, err := s.dialer(addr).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, s.id.clientConfig(proto, want))
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("%w with %s: %w", ErrHandshake, addr, err)
	}
	return tc, nil
}

// dialer dials from the bind IP, so that on a multi-homed host node
// traffic leaves by the interface the operator chose — except that a
// loopback source cannot reach another host.
func (s *StreamLayer) dialer(addr string) *net.Dialer {
	d := &net.Dialer{}
	if s.source == nil {
		return d
	}
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	destLoopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if s.source.IsLoopback() == destLoopback {
		d.LocalAddr = &net.TCPAddr{IP: s.source}
		d.Control = deferPortChoice
	}
	return d
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
			s.log.Warn("refused node connection: too many handshakes in flight", "remote", conn.RemoteAddr().String())
			conn.Close()
			continue
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.serveConn(conn) }()
	}
}

// serveConn authenticates one inbound connection and hands it to the
// service its ALPN names, or logs and closes it.
func (s *StreamLayer) serveConn(raw net.Conn) {
	tc, peer, err := s.handshake(raw)
	<-s.pending
	if err != nil {
		// The remote address only: nothing the peer claimed is proven.
		s.log.Warn("refused node connection", "remote", raw.RemoteAddr().String(), "error", err)
		raw.Close()
		return
	}
	switch tc.ConnectionState().NegotiatedProtocol {
	case protoRaft:
		s.handOver(tc, s.raftConns, nil)
	case protoHTTP:
		// Not a *tls.Conn to net/http, which would look up our ALPN name
		// in TLSNextProto and, finding nothing, close the connection.
		s.handOver(forwardConn{tc}, s.httpLn.conns, s.httpLn.done)
	case protoJoin:
		if h := s.joins.Load(); h != nil {
			(*h)(tc, peer)
		}
		tc.Close()
	default:
		s.log.Warn("refused node connection: no protocol named", "remote", raw.RemoteAddr().String(), "node_id", peer)
		tc.Close()
	}
}

// handshake runs the server side of TLS within the handshake bound, aborted
// at once by Close, and returns the peer's proven node ID.
func (s *StreamLayer) handshake(raw net.Conn) (*tls.Conn, string, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.handshakeTimeout)
	defer cancel()
	tc := tls.Server(raw, s.serverTLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	// VerifyConnection has checked the chain and the ID's form.
	return tc, tc.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

// handOver gives conn to whoever accepts on ch, unless the layer closes
// or the listener behind ch stops first.
func (s *StreamLayer) handOver(conn net.Conn, ch chan net.Conn, stopped <-chan struct{}) {
	select {
	case ch <- conn:
	case <-stopped:
		conn.Close()
	case <-s.ctx.Done():
		conn.Close()
	}
}

// setJoinHandler routes join requests to h; until it is set they are
// refused.
func (s *StreamLayer) setJoinHandler(h joinHandler) { s.joins.Store(&h) }

// forwardConn is an authenticated node-channel connection carrying
// forwarded HTTP/1.1.
type forwardConn struct{ *tls.Conn }

// connListener is a net.Listener over the forwarded-HTTP connections.
type connListener struct {
	conns     chan net.Conn
	done      chan struct{} // closed by Close
	stop      <-chan struct{}
	addr      net.Addr
	closeOnce sync.Once
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.stop:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// nodeTransport is raft's network transport with the target's node ID
// bound into every address it dials: raft knows whom it means to reach,
// and the stream layer then accepts only that node's certificate there.
type nodeTransport struct {
	*raft.NetworkTransport
	heartbeats *heartbeatGate
}

// heartbeatGate lets Close wait for heartbeats in progress. Raft handles a
// heartbeat on the transport's connection goroutine, outside its own, so
// one that began just before raft.Shutdown can still persist a term after
// it; closing the log store under it makes raft panic ("failed to save
// current term: database not open").
type heartbeatGate struct {
	mu     sync.RWMutex
	closed bool
}

// SetHeartbeatHandler passes heartbeats to cb until quiesce.
func (t nodeTransport) SetHeartbeatHandler(cb func(raft.RPC)) {
	t.NetworkTransport.SetHeartbeatHandler(t.heartbeats.wrap(cb))
}

// Close closes the transport, then waits for the heartbeats in progress
// and refuses later ones, so that whoever closes the log store next (the
// node, after raft.Shutdown) does not close it under one.
func (t nodeTransport) Close() error {
	err := t.NetworkTransport.Close()
	t.heartbeats.close()
	return err
}

func (g *heartbeatGate) wrap(cb func(raft.RPC)) func(raft.RPC) {
	return func(rpc raft.RPC) {
		g.mu.RLock()
		defer g.mu.RUnlock()
		if g.closed {
			rpc.Respond(nil, raft.ErrRaftShutdown)
			return
		}
		cb(rpc)
	}
}

func (g *heartbeatGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// peerTarget is the dial address for node id at addr. Node IDs cannot
// hold '@' (ValidNodeID), so the split is unambiguous.
func peerTarget(id raft.ServerID, addr raft.ServerAddress) raft.ServerAddress {
	return raft.ServerAddress(string(id) + "@" + string(addr))
}

func (t nodeTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	return t.NetworkTransport.AppendEntriesPipeline(id, peerTarget(id, target))
}

func (t nodeTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	return t.NetworkTransport.AppendEntries(id, peerTarget(id, target), args, resp)
}

func (t nodeTransport) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return t.NetworkTransport.RequestVote(id, peerTarget(id, target), args, resp)
}

func (t nodeTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.NetworkTransport.RequestPreVote(id, peerTarget(id, target), args, resp)
}

func (t nodeTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	return t.NetworkTransport.InstallSnapshot(id, peerTarget(id, target), args, resp, data)
}

func (t nodeTransport) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return t.NetworkTransport.TimeoutNow(id, peerTarget(id, target), args, resp)
}
