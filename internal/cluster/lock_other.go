//go:build !unix

package cluster

import "os"

// lockFile only creates the lock file where flock does not exist; the
// server is built and supported for unix systems.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
