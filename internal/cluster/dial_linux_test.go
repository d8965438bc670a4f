package cluster

import (
	"context"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A node bound to a specific IP dials its peers from it, with the port
// left to connect time (IP_BIND_ADDRESS_NO_PORT).
func TestDialer_SourceIPWithoutPortAtBind(t *testing.T) {
	peer, _ := newLayer(t, TransportConfig{NodeID: "peer", ClusterKey: testKey(t)})
	s, _ := newLayer(t, TransportConfig{NodeID: "self", ClusterKey: testKey(t)})
	d := s.dialer(peer.Addr().String())
	if d.LocalAddr == nil || d.LocalAddr.(*net.TCPAddr).IP.String() != "127.0.0.1" || d.Control == nil {
		t.Fatalf("dialer from a node bound to 127.0.0.1: %+v", d)
	}
	inner := d.Control
	var set int
	d.Control = func(network, address string, c syscall.RawConn) error {
		err := inner(network, address, c)
		c.Control(func(fd uintptr) { set, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT) })
		return err
	}
	conn, err := d.DialContext(context.Background(), "tcp", peer.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if set != 1 {
		t.Fatalf("IP_BIND_ADDRESS_NO_PORT = %d", set)
	}
	if from := conn.LocalAddr().(*net.TCPAddr).IP.String(); from != "127.0.0.1" {
		t.Fatalf("dialled from %s", from)
	}
}
