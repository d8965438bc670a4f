package proctest

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to SIGKILL the server when the test
// process dies, however it dies, so a killed test run leaves no server
// behind. (Pdeathsig follows the thread that started the child; Go's test
// threads do not exit while the test binary runs.)
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
