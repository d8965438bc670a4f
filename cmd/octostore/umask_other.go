//go:build !unix

package main

// restrictUmask does nothing where there is no umask; the data dir code
// sets modes itself.
func restrictUmask() {}
