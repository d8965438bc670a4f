package httpapi

import (
	"net/netip"
	"testing"
	"time"
)

// TestAuthFailures_Window: an address has limit failures per window from
// its first failure; refused attempts do not extend it, the wait named is
// the window's end, and a new window starts once it is over. Addresses
// count apart; a nil counter (limit 0) refuses nothing.
func TestAuthFailures_Window(t *testing.T) {
	f := newAuthFailures(3)
	k, other := addrKey("192.0.2.1:5000"), clientKey{addr: netip.MustParsePrefix("192.0.2.2/32")}
	t0 := time.Unix(1_000_000, 0)
	for i := range 3 {
		if _, ok := f.fail(k, t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatalf("failure %d refused", i+1)
		}
	}
	if wait, ok := f.fail(k, t0.Add(10*time.Second)); ok || wait != 50*time.Second {
		t.Fatalf("4th failure: ok %v, wait %v; want refused, 50s", ok, wait)
	}
	if _, ok := f.fail(other, t0.Add(10*time.Second)); !ok {
		t.Fatal("another address was refused")
	}
	if _, ok := f.fail(k, t0.Add(authFailureWindow)); !ok {
		t.Fatal("refused after the window ended")
	}
	if _, ok := (*authFailures)(nil).fail(k, t0); !ok || newAuthFailures(0) != nil {
		t.Fatal("limit 0 refuses")
	}
}

// TestAddrKey_IPv6By64: two addresses of one IPv6 /64 are one client, so
// hopping between them does not reset a count.
func TestAddrKey_IPv6By64(t *testing.T) {
	if addrKey("[2001:db8::1]:1") != addrKey("[2001:db8::ffff:1]:2") || addrKey("[2001:db8::1]:1") == addrKey("[2001:db8:0:1::1]:1") {
		t.Fatal("IPv6 addresses are not keyed by /64")
	}
}
