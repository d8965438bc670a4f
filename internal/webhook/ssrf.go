package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/octostore/octostore/internal/state"
)

// ErrForbiddenTarget is a webhook URL this server will not call: not
// HTTPS, or an address on the server's own networks.
var ErrForbiddenTarget = errors.New("forbidden webhook target")

// Resolver looks up a host's addresses (net.DefaultResolver does).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// specialRange is a range webhooks may not target, and what it is.
type specialRange struct {
	prefix netip.Prefix
	what   string
}

func special(prefix, what string) specialRange {
	return specialRange{netip.MustParsePrefix(prefix), what}
}

// specialRanges is every range of IANA's IPv4 and IPv6 Special-Purpose
// Address Registries, plus multicast, class E and the deprecated
// site-local range. All are refused, including those the registry calls
// globally reachable: none is an ordinary receiver, several reach the
// server's own networks, and some embed an IPv4 address that a relay or
// translator would connect to on the server's behalf (NAT64, 6to4,
// Teredo in 2001::/23), which could be a private one. The two IPv6 forms
// that embed an IPv4 address the kernel itself connects to,
// ::ffff:0:0/96 (mapped) and ::/96 (compatible), are judged by that
// address instead (forbiddenAddr).
var specialRanges = []specialRange{
	special("0.0.0.0/8", "this network"),
	special("10.0.0.0/8", "private"),
	special("100.64.0.0/10", "shared address space, CGNAT"),
	special("127.0.0.0/8", "loopback"),
	special("169.254.0.0/16", "link-local"),
	special("172.16.0.0/12", "private"),
	special("192.0.0.0/24", "IETF protocol assignments"),
	special("192.0.2.0/24", "documentation, TEST-NET-1"),
	special("192.31.196.0/24", "AS112"),
	special("192.52.193.0/24", "AMT"),
	special("192.88.99.0/24", "6to4 relay anycast"),
	special("192.168.0.0/16", "private"),
	special("192.175.48.0/24", "AS112 direct delegation"),
	special("198.18.0.0/15", "benchmarking"),
	special("198.51.100.0/24", "documentation, TEST-NET-2"),
	special("203.0.113.0/24", "documentation, TEST-NET-3"),
	special("224.0.0.0/4", "multicast"),
	special("240.0.0.0/4", "reserved"),
	special("255.255.255.255/32", "limited broadcast"),
	special("::/128", "unspecified"),
	special("::1/128", "loopback"),
	special("64:ff9b::/96", "NAT64"),
	special("64:ff9b:1::/48", "local-use NAT64"),
	special("100::/64", "discard-only"),
	special("100:0:0:1::/64", "dummy prefix"),
	special("2001::/23", "IETF protocol assignments, Teredo"),
	special("2001:db8::/32", "documentation"),
	special("2002::/16", "6to4"),
	special("2620:4f:8000::/48", "AS112 direct delegation"),
	special("3fff::/20", "documentation"),
	special("5f00::/16", "segment routing SIDs"),
	special("fc00::/7", "unique local, private"),
	special("fe80::/10", "link-local"),
	special("fec0::/10", "site-local, deprecated"),
	special("ff00::/8", "multicast"),
}

// Forms of IPv6 address that carry an IPv4 address in their last 32 bits.
var (
	ipv4Mapped     = netip.MustParsePrefix("::ffff:0:0/96")
	ipv4Compatible = netip.MustParsePrefix("::/96")
)

// forbiddenAddr says why a receiver at addr is refused ("127.0.0.1 is in
// 127.0.0.0/8 (loopback)"), or "" for an ordinary public address.
func forbiddenAddr(addr netip.Addr) string {
	switch {
	case !addr.IsValid():
		return "an invalid address"
	case addr.Zone() != "": // Prefix.Contains never matches a zoned address
		return fmt.Sprintf("%s names a network interface", addr)
	}
	if r, ok := rangeOf(addr); ok {
		return fmt.Sprintf("%s is in %s (%s)", addr, r.prefix, r.what)
	}
	if addr.Is6() && (ipv4Mapped.Contains(addr) || ipv4Compatible.Contains(addr)) {
		v4 := netip.AddrFrom4([4]byte(addr.AsSlice()[12:]))
		if r, ok := rangeOf(v4); ok {
			return fmt.Sprintf("%s embeds %s, which is in %s (%s)", addr, v4, r.prefix, r.what)
		}
	}
	return ""
}

// rangeOf finds the special-purpose range addr is in.
func rangeOf(addr netip.Addr) (specialRange, bool) {
	for _, r := range specialRanges {
		if r.prefix.Contains(addr) {
			return r, true
		}
	}
	return specialRange{}, false
}

// guard enforces the target rules at registration and, authoritatively,
// at every connection.
type guard struct {
	allowPrivate bool
	resolver     Resolver
}

// checkURL validates a webhook URL for registration: HTTPS with a host,
// and, unless private targets are allowed, no literal special-purpose
// address, no localhost, and no name that resolves to such an address
// right now. A name that does not resolve yet is accepted: delivery
// checks again. It never connects to anything.
func (g guard) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Hostname() == "" || u.Opaque != "":
		return fmt.Errorf("%w: %q is not an absolute URL", ErrForbiddenTarget, raw)
	case u.Scheme != "https":
		return fmt.Errorf("%w: webhook URLs must use https", ErrForbiddenTarget)
	case u.User != nil:
		return fmt.Errorf("%w: credentials in the URL are not allowed; use a secret", ErrForbiddenTarget)
	case len(raw) > state.MaxWebhookURLLen:
		return fmt.Errorf("%w: URL longer than %d bytes", ErrForbiddenTarget, state.MaxWebhookURLLen)
	}
	host := normalHost(u.Hostname())
	if err := checkName(host); err != nil || g.allowPrivate {
		return err
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s is loopback%s", ErrForbiddenTarget, host, allowHint)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = g.addrs(ctx, host)
	if errors.Is(err, ErrForbiddenTarget) {
		return err
	}
	return nil
}

const allowHint = " (the operator can allow private targets with --webhook-allow-private)"

// normalHost lowercases host and drops a trailing dot, so that
// "LOCALHOST." and "127.0.0.1." are judged as what they mean.
func normalHost(host string) string { return strings.TrimSuffix(strings.ToLower(host), ".") }

// checkName refuses a host that is neither an IP address Go parses nor a
// DNS name: one whose last label is a number ("2130706433", "127.1",
// "0x7f.1"). Browsers and C resolvers read those as IPv4 addresses in
// other notations; this guard does not, so it refuses them whole rather
// than judge them by an address it did not compute.
func checkName(host string) error {
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if numeric(host[strings.LastIndexByte(host, '.')+1:]) {
		return fmt.Errorf("%w: %s is a number, not a host name; write an IPv4 address as a.b.c.d", ErrForbiddenTarget, host)
	}
	return nil
}

// numeric reports whether a (lowercased) label is a decimal, octal or
// "0x" hexadecimal number.
func numeric(label string) bool {
	if hex, ok := strings.CutPrefix(label, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return label != "" && strings.Trim(label, "0123456789") == ""
}

// addrs resolves host (or parses it, when literal) and, unless private
// targets are allowed, refuses it if any address is forbidden: a name
// with one private address among public ones could be steered there.
func (g guard) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	host = normalHost(host)
	if err := checkName(host); err != nil {
		return nil, err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if why := forbiddenAddr(a); why != "" && !g.allowPrivate {
			return nil, fmt.Errorf("%w: %s%s", ErrForbiddenTarget, why, allowHint)
		}
		return []netip.Addr{a}, nil
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	for _, a := range addrs {
		if why := forbiddenAddr(a); why != "" && !g.allowPrivate {
			// The address itself stays out of the message: a user who
			// registers names must not learn what internal DNS answers.
			return nil, fmt.Errorf("%w: %s resolves to a refused address: %s%s", ErrForbiddenTarget, host, why, allowHint)
		}
	}
	return addrs, nil
}

// dial connects to the checked address itself, so the name cannot
// resolve differently between the check and the connection (DNS
// rebinding): what is dialled is exactly what was judged.
func (g guard) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := g.addrs(ctx, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	for _, a := range addrs {
		var conn net.Conn
		if conn, err = d.DialContext(ctx, network, net.JoinHostPort(a.String(), port)); err == nil {
			return conn, nil
		}
	}
	return nil, err
}
