//go:build !linux

package main

import "syscall"

// commandAttr puts a held command in a process group of its own. (Only
// Linux can have the kernel end it when octostore dies.)
func commandAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
