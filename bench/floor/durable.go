package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// logSize is the preallocated log: written through, never grown, so an
// fdatasync flushes data and no file-size metadata, as a WAL segment's
// does.
const logSize = 256 << 20

var logFile struct {
	sync.Mutex
	f   *os.File
	off int64
}

// openLog creates the log in dir, filled with zeros and synced.
func openLog(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, "floor.log"), os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(make([]byte, logSize), 0); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	logFile.f = f
	return nil
}

// durable writes one record (the body and the path) and waits for the
// disk, one at a time; without a log it does nothing.
func durable(body []byte, path string) {
	logFile.Lock()
	defer logFile.Unlock()
	if logFile.f == nil {
		return
	}
	rec := append(append([]byte(nil), body...), path...)
	if logFile.off+int64(len(rec)) > logSize {
		logFile.off = 0
	}
	if _, err := logFile.f.WriteAt(rec, logFile.off); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	logFile.off += int64(len(rec))
	if err := datasync(logFile.f); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
