package server

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/tlsconfig"
)

// addrListener is a listener that only has an address: enough for the
// start-up warning, and nothing listens on a non-loopback interface.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l addrListener) Addr() net.Addr { return l.addr }

// TestWarnPlainHTTP: plain HTTP beyond loopback draws one warning that
// says how to turn TLS on; loopback, or TLS, draws none.
func TestWarnPlainHTTP(t *testing.T) {
	cases := []struct {
		ip   string
		warn bool
	}{
		{"127.0.0.1", false}, {"127.0.0.2", false}, {"::1", false},
		{"0.0.0.0", true}, {"::", true}, {"192.0.2.10", true}, {"2001:db8::1", true},
	}
	for _, c := range cases {
		var log bytes.Buffer
		s := &Server{cfg: Config{Logger: slog.New(slog.NewTextHandler(&log, nil))},
			ln: addrListener{addr: &net.TCPAddr{IP: net.ParseIP(c.ip), Port: 3000}}}
		s.warnPlainHTTP()
		got := strings.Count(log.String(), "level=WARN")
		if c.warn && (got != 1 || !strings.Contains(log.String(), "--tls-cert-file") || !strings.Contains(log.String(), "--tls-key-file")) {
			t.Errorf("%s: want one warning naming the TLS flags, got:\n%s", c.ip, log.String())
		}
		if !c.warn && got != 0 {
			t.Errorf("%s: loopback warned:\n%s", c.ip, log.String())
		}
	}
	var log bytes.Buffer
	s := &Server{cfg: Config{Logger: slog.New(slog.NewTextHandler(&log, nil))}, certs: &tlsconfig.Reloader{},
		ln: addrListener{addr: &net.TCPAddr{IP: net.IPv4zero, Port: 3000}}}
	if s.warnPlainHTTP(); log.Len() > 0 {
		t.Errorf("TLS on every interface warned:\n%s", log.String())
	}
}
