package apitest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on loopback in front of a server, which a test can
// turn into a black hole: connections stay open, requests go nowhere and
// no answer ever comes, as with a partitioned network.
type Proxy struct {
	Addr   string // host:port to connect to instead of the server
	ln     net.Listener
	target string

	mu      sync.Mutex
	holed   bool
	drop    bool       // drop the next answer (DropNextAnswer)
	conns   []net.Conn // to the target
	clients []net.Conn // from clients
}

// StartProxy proxies to target (host:port) until the test ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// BlackHole stops all traffic, on open connections and new ones.
func (p *Proxy) BlackHole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Cut closes every open connection, as a dropped network path or a
// restarted load balancer would; new connections go through as before.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range append(p.conns, p.clients...) {
		c.Close()
	}
	p.conns, p.clients = nil, nil
}

// DropNextAnswer makes the proxy discard the next answer the server
// sends, on whichever connection it comes, and close that connection
// both ways instead: the request reached the server and was served, the
// client sees the connection end after sending it (an unknown outcome).
// Later answers go through.
func (p *Proxy) DropNextAnswer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop = true
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.BlackHole()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.Close()
	}
	p.clients = nil
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.clients = append(p.clients, c)
		p.mu.Unlock()
		go p.serve(c)
	}
}

// serve forwards c to the target; in a black hole, it reads and drops
// what c sends until c closes.
func (p *Proxy) serve(c net.Conn) {
	defer c.Close()
	p.mu.Lock()
	holed := p.holed
	p.mu.Unlock()
	var up net.Conn
	if !holed {
		var err error
		if up, err = net.Dial("tcp", p.target); err != nil {
			return
		}
		p.mu.Lock()
		if p.holed {
			up.Close()
			up = nil
		} else {
			p.conns = append(p.conns, up)
		}
		p.mu.Unlock()
	}
	if up == nil {
		io.Copy(io.Discard, c)
		return
	}
	go func() {
		io.Copy(up, c)
		up.Close()
	}()
	p.answers(c, up)
	// up closed: by the server (close c too) or by BlackHole (keep c open
	// and silent).
	p.mu.Lock()
	holed = p.holed
	p.mu.Unlock()
	if holed {
		io.Copy(io.Discard, c)
	}
}

// answers copies the server's answers from up to c until up closes or an
// answer is to be dropped (then it closes both).
func (p *Proxy) answers(c, up net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := p.drop
			p.drop = false
			p.mu.Unlock()
			if drop {
				up.Close()
				c.Close()
				return
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
