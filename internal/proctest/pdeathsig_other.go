//go:build !linux

package proctest

import "os/exec"

// dieWithParent has no equivalent here: t.Cleanup stops the servers.
func dieWithParent(*exec.Cmd) {}
