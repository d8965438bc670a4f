package httpapi

import "testing"

// An attacker hopping between the addresses it has, however many ports or
// IPv6 addresses of one /64, stays one client for per-address limits; a
// different subscriber is another.
func TestAddrKey_OneClientPerSubscriber(t *testing.T) {
	for _, pair := range [][2]string{
		{"192.0.2.1:1000", "192.0.2.1:2000"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:2"},
		{"[::ffff:192.0.2.1]:1", "192.0.2.1:2"},
		{"[fe80::1%eth0]:1", "[fe80::2%eth1]:1"},
	} {
		if a, b := addrKey(pair[0]), addrKey(pair[1]); a != b || a == (clientKey{}) {
			t.Errorf("%s and %s: keys %v and %v, want one", pair[0], pair[1], a, b)
		}
	}
	for _, pair := range [][2]string{
		{"192.0.2.1:1", "192.0.2.2:1"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1"},
	} {
		if a, b := addrKey(pair[0]), addrKey(pair[1]); a == b {
			t.Errorf("%s and %s: both %v, want two clients", pair[0], pair[1], a)
		}
	}
}
