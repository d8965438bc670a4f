package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

// names resolves from a table and never touches the network; a name not
// in it fails the test, so a literal address proves it needed no lookup.
type names struct {
	t     *testing.T
	addrs map[string][]string
}

func (r names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	as, ok := r.addrs[host]
	if !ok {
		r.t.Errorf("unexpected lookup of %q", host)
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range as {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

// refusedTargets are URLs an attacker could use to reach the server's own
// networks, or a relay that would: one or more per special-purpose range,
// the embedded-IPv4 forms, and hosts in other notations.
var refusedTargets = []string{
	// IPv4 special-purpose registry, with the edges of the wider ranges.
	"https://0.0.0.0/", "https://0.255.255.255/", "https://10.0.0.1/", "https://10.255.255.255/",
	"https://100.64.0.1/", "https://100.127.255.254/", "https://127.0.0.1/", "https://127.255.255.254:8443/x",
	"https://169.254.169.254/latest/meta-data", "https://172.16.0.1/", "https://172.31.255.255/",
	"https://192.0.0.9/", "https://192.0.0.192/", "https://192.0.2.1/", "https://192.31.196.1/",
	"https://192.52.193.1/", "https://192.88.99.1/", "https://192.168.1.1/", "https://192.175.48.1/",
	"https://198.18.0.1/", "https://198.19.255.255/", "https://198.51.100.7/", "https://203.0.113.10/",
	"https://224.0.0.1/", "https://239.255.255.250/", "https://240.0.0.1/", "https://255.255.255.255/",
	// IPv6 special-purpose registry.
	"https://[::]/", "https://[::1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[64:ff9b::808:808]/",
	"https://[64:ff9b:1::1]/", "https://[100::1]/", "https://[100:0:0:1::1]/", "https://[2001::1]/",
	"https://[2001:1ff:ffff::1]/", "https://[2001:db8::1]/", "https://[2002:7f00:1::]/", "https://[2002:808:808::1]/",
	"https://[2620:4f:8000::1]/", "https://[3fff::1]/", "https://[5f00::1]/", "https://[fc00::1]/",
	"https://[fd00::1]/", "https://[fe80::1]/", "https://[fe80::1%25eth0]/", "https://[febf:ffff::1]/",
	"https://[fec0::1]/", "https://[ff02::1]/", "https://[ff05::1:3]/",
	// IPv4 inside IPv6: mapped and compatible forms of refused addresses.
	"https://[::ffff:127.0.0.1]/", "https://[::ffff:a9fe:a9fe]/", "https://[::ffff:10.0.0.1]/",
	"https://[::127.0.0.1]/", "https://[::a9fe:a9fe]/", "https://[::10.0.0.1]/",
	// Other notations, names and malformed hosts.
	"https://2130706433/", "https://0x7f000001/", "https://0x7f.1/", "https://127.1/", "https://017700000001/",
	"https://127.0.0.1./", "https://localhost/", "https://LOCALHOST./", "https://api.localhost/", "https://:443/",
	"http://8.8.8.8/", "https://user:pw@8.8.8.8/",
}

// acceptedTargets are ordinary public receivers, including addresses just
// outside the refused ranges.
var acceptedTargets = []string{
	"https://8.8.8.8/", "https://1.1.1.1:8443/hook", "https://[2606:4700::1111]/", "https://[2001:4860:4860::8888]/",
	"https://[::ffff:8.8.8.8]/", "https://100.128.0.1/", "https://172.32.0.1/", "https://198.20.0.1/",
	"https://192.0.3.1/", "https://223.255.255.254/", "https://[2001:200::1]/", "https://hooks.example.test/",
}

func TestCheckURL_RefusesSpecialPurposeAddresses(t *testing.T) {
	g := guard{resolver: names{t: t}}
	for _, target := range refusedTargets {
		if err := g.checkURL(context.Background(), target); !errors.Is(err, ErrForbiddenTarget) {
			t.Errorf("%s: accepted (%v)", target, err)
		}
	}
}

// TestCheckURL_AcceptsPublicAddresses: registration only parses a literal
// (the resolver fails the test if asked) and connects to nothing: guard
// has no way to dial outside the delivery transport.
func TestCheckURL_AcceptsPublicAddresses(t *testing.T) {
	g := guard{resolver: names{t: t, addrs: map[string][]string{"hooks.example.test": {"93.184.216.34", "2606:2800:220:1::1"}}}}
	for _, target := range acceptedTargets {
		if err := g.checkURL(context.Background(), target); err != nil {
			t.Errorf("%s: %v", target, err)
		}
	}
}

// TestCheckURL_RefusesNamesWithAnySpecialAddress: one forbidden address
// among public ones is enough to refuse a name.
func TestCheckURL_RefusesNamesWithAnySpecialAddress(t *testing.T) {
	g := guard{resolver: names{t: t, addrs: map[string][]string{
		"mixed.test":  {"8.8.8.8", "10.0.0.1"},
		"nat64.test":  {"64:ff9b::a9fe:a9fe"},
		"mapped.test": {"::ffff:127.0.0.1"},
	}}}
	for _, host := range []string{"mixed.test", "nat64.test", "mapped.test"} {
		if err := g.checkURL(context.Background(), "https://"+host+"/"); !errors.Is(err, ErrForbiddenTarget) {
			t.Errorf("%s: accepted (%v)", host, err)
		}
	}
}

// TestDial_JudgesWhatItDials: at delivery the dialer resolves again and
// refuses before connecting, so a name that turned private after
// registration (DNS rebinding) or a literal in an odd form is never
// dialled.
func TestDial_JudgesWhatItDials(t *testing.T) {
	g := guard{resolver: names{t: t, addrs: map[string][]string{"rebound.test": {"127.0.0.1"}}}}
	for _, address := range []string{"rebound.test:443", "[::ffff:127.0.0.1]:443", "[::127.0.0.1]:443",
		"[64:ff9b::a9fe:a9fe]:443", "[2002:7f00:1::]:443", "2130706433:443", "169.254.169.254:443"} {
		conn, err := g.dial(context.Background(), "tcp", address)
		if conn != nil {
			conn.Close()
		}
		if !errors.Is(err, ErrForbiddenTarget) {
			t.Errorf("%s: %v, want a refusal", address, err)
		}
	}
}

func TestForbiddenAddr_SaysWhy(t *testing.T) {
	for addr, want := range map[string]string{
		"169.254.169.254":    "169.254.169.254 is in 169.254.0.0/16 (link-local)",
		"::ffff:127.0.0.1":   "::ffff:127.0.0.1 embeds 127.0.0.1, which is in 127.0.0.0/8 (loopback)",
		"64:ff9b::a9fe:a9fe": "64:ff9b::a9fe:a9fe is in 64:ff9b::/96 (NAT64)",
		"8.8.8.8":            "",
	} {
		if got := forbiddenAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: %q, want %q", addr, got, want)
		}
	}
}
