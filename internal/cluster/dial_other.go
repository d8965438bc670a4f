//go:build !linux

package cluster

import "syscall"

// deferPortChoice is Linux's IP_BIND_ADDRESS_NO_PORT; elsewhere the port
// is chosen at bind time.
func deferPortChoice(_, _ string, _ syscall.RawConn) error { return nil }
