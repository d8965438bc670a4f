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

// cgnat is the carrier-grade NAT range, shared address space that is
// private in practice.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// forbiddenAddr reports why a receiver at addr could reach something it
// must not: loopback, private, link-local, CGNAT, multicast, unspecified.
func forbiddenAddr(addr netip.Addr) string {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback():
		return "loopback"
	case addr.IsPrivate(), cgnat.Contains(addr):
		return "private"
	case addr.IsLinkLocalUnicast():
		return "link-local"
	case addr.IsMulticast(), addr.IsLinkLocalMulticast(), addr.IsInterfaceLocalMulticast():
		return "multicast"
	case addr.IsUnspecified(), addr.Is4() && addr.As4()[0] == 0, addr == netip.MustParseAddr("255.255.255.255"):
		return "unspecified or broadcast"
	}
	return ""
}

// guard enforces the target rules at registration and, authoritatively,
// at every connection.
type guard struct {
	allowPrivate bool
	resolver     Resolver
}

// checkURL validates a webhook URL for registration: HTTPS with a host,
// and, unless private targets are allowed, no literal private address, no
// localhost, and no name that resolves to a private address right now.
// A name that does not resolve yet is accepted: delivery checks again.
func (g guard) checkURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%w: %q is not an absolute URL", ErrForbiddenTarget, raw)
	case u.Scheme != "https":
		return fmt.Errorf("%w: webhook URLs must use https", ErrForbiddenTarget)
	case u.User != nil:
		return fmt.Errorf("%w: credentials in the URL are not allowed; use a secret", ErrForbiddenTarget)
	case len(raw) > state.MaxWebhookURLLen:
		return fmt.Errorf("%w: URL longer than %d bytes", ErrForbiddenTarget, state.MaxWebhookURLLen)
	}
	if g.allowPrivate {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: %s is loopback (the operator can allow private targets with --webhook-allow-private)", ErrForbiddenTarget, host)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = g.addrs(ctx, host)
	if errors.Is(err, ErrForbiddenTarget) {
		return err
	}
	return nil
}

// addrs resolves host (or parses it, when literal) and refuses it if any
// address is forbidden: a name with one private address among public
// ones could be steered there.
func (g guard) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = g.resolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no addresses", host)
	}
	for _, a := range addrs {
		if why := forbiddenAddr(a); why != "" && !g.allowPrivate {
			return nil, fmt.Errorf("%w: %s resolves to %s, a %s address (the operator can allow private targets with --webhook-allow-private)",
				ErrForbiddenTarget, host, a, why)
		}
	}
	return addrs, nil
}

// dial connects to the checked address itself, so the name cannot
// resolve differently between the check and the connection.
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
