package main

import "syscall"

// commandAttr puts a held command in a process group of its own, and has
// the kernel SIGKILL it if octostore dies (kill -9, the OOM killer)
// before it could stop it: a command must not run on unsupervised past
// the lease or leadership it needs. Pdeathsig follows the thread that
// started the command, which runHeld keeps locked while the command runs.
func commandAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
