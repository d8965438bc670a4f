package chaos

import (
	"net"
	"sync"
	"time"
)

// Proxy sits in front of one node's Raft port: peers reach the node only
// through it (the node advertises the proxy's address). It can refuse
// connections by the dialer's source IP — each node binds its own
// loopback IP and dials its peers from it — which cuts one direction of a
// link, and it can delay traffic. Node traffic is TLS end to end: the
// proxy holds no key and sees only ciphertext. No root and no iptables
// needed.
type Proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	target string
	block  map[string]bool // dialer IPs refused
	delay  time.Duration
	conns  map[net.Conn]string // open client conns by dialer IP
}

// NewProxy listens on a loopback port.
func NewProxy() (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, block: map[string]bool{}, conns: map[net.Conn]string{}}
	go p.serve()
	return p, nil
}

// Addr is the address to advertise instead of the node's own.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget points the proxy at the node's real Raft address.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// Block refuses (or allows again) connections dialled from the IP from,
// and cuts those already open.
func (p *Proxy) Block(from string, blocked bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.block[from] = blocked
	if !blocked {
		return
	}
	for c, id := range p.conns {
		if id == from {
			c.Close()
		}
	}
}

// SetDelay delays every chunk of traffic through the proxy by d.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Close stops the proxy and cuts every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.relay(c)
	}
}

// relay splices the connection to the node unless its dialer is blocked.
func (p *Proxy) relay(client net.Conn) {
	defer client.Close()
	from, _, _ := net.SplitHostPort(client.RemoteAddr().String())
	p.mu.Lock()
	target, refused := p.target, p.block[from]
	if !refused {
		p.conns[client] = from
	}
	p.mu.Unlock()
	if refused || target == "" {
		return
	}
	defer p.forget(client)
	server, err := net.DialTimeout("tcp", target, 2*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	go func() { p.pipe(client, server); done <- struct{}{} }()
	<-done
}

func (p *Proxy) forget(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// pipe copies src to dst, applying the current delay, and closes both
// ends when either side ends.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			d := p.delay
			p.mu.Unlock()
			if d > 0 {
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
