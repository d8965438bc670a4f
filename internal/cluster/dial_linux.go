package cluster

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// deferPortChoice makes a socket bound to a source IP take its port only
// at connect, as an unbound one does. Bound with port 0, Linux would pick
// the port at bind time from the range listeners draw ":0" ports from,
// and hold it for the connection's life — where it can collide with a
// listener that comes back on its old port after a restart.
func deferPortChoice(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
