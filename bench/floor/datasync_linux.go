package main

import (
	"os"
	"syscall"
)

// datasync is fdatasync: the data, not the file's times.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
