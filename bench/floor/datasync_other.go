//go:build !linux

package main

import "os"

// datasync falls back to fsync where fdatasync is not in syscall.
func datasync(f *os.File) error { return f.Sync() }
