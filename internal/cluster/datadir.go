package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
)

// The data dir is private to the server's user: the Raft log and the
// snapshots hold token hashes and webhook secrets. Directories are 0700 and files
// 0600 however the directory came to exist. Two things threaten that:
//
//   - a data dir made beforehand (a container volume, a restore target
//     made by hand) is usually 0755, and may hold files made with the
//     creator's umask; prepareDataDir tightens what it finds at start.
//   - raft's FileSnapshotStore makes each snapshot's directory 0755 and its
//     files with os.Create (0666 less the umask); privateSnapshots tightens
//     every snapshot as it is made.
//
// Neither relies on the process umask, which is process-wide state a
// library must not change; the octostore command sets it as well, for
// files nobody here knows about yet.

// snapshotsDir is where raft's FileSnapshotStore keeps its snapshots,
// under the data dir.
const snapshotsDir = "snapshots"

// openToOthers are the permission bits that let anyone but the owner in.
const openToOthers fs.FileMode = 0o077

// prepareDataDir creates the data dir and its snapshots directory (0700)
// and takes group and other permissions away from everything already in
// them, logging one line when it changed or failed to change anything.
// An entry it may not change (a volume's root owned by root, as with a
// Kubernetes fsGroup) is reported, not fatal: what the server writes is
// private in any case, and refusing to start would turn a warning into
// an outage.
func prepareDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(filepath.Join(dir, snapshotsDir), 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	changed, err := tighten(dir)
	if len(changed) == 0 && err == nil {
		return nil
	}
	attrs := []any{"data_dir", dir, "tightened", len(changed), "paths", firstFew(changed)}
	if err != nil {
		attrs = append(attrs, "not_tightened", err)
	}
	log.Warn("data dir was open to other users: removed group and other permissions (dirs 0700, files 0600)", attrs...)
	return nil
}

// firstFew keeps a log line short when a large tree was open.
func firstFew(paths []string) []string {
	const most = 10
	if len(paths) <= most {
		return paths
	}
	return append(paths[:most:most], fmt.Sprintf("... %d more", len(paths)-most))
}

// tighten removes group and other permissions from root and from every
// directory and regular file under it, and returns what it changed as
// "path (old mode)", relative to root. It only ever takes bits away.
// Symbolic links are neither followed nor changed: chmod would change
// their target, which may lie outside the data dir. Entries that vanish
// meanwhile (raft reaping an old snapshot) are skipped; other failures
// are collected and returned together after the walk.
func tighten(root string) (changed []string, err error) {
	base, err := filepath.EvalSymlinks(root) // the data dir itself may be a link to a volume
	if err != nil {
		return nil, err
	}
	var errs []error
	filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err == nil && (d.IsDir() || d.Type().IsRegular()) {
			var old fs.FileMode
			if old, err = tightenOne(path, d); err == nil && old != 0 {
				rel, _ := filepath.Rel(base, path)
				changed = append(changed, fmt.Sprintf("%s (%v)", rel, old))
			}
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		return nil
	})
	return changed, errors.Join(errs...)
}

// tightenOne chmods one entry if group or others have any permission on
// it, returning its old permissions, or 0 if it was already private.
func tightenOne(path string, d fs.DirEntry) (fs.FileMode, error) {
	info, err := d.Info()
	if err != nil {
		return 0, err
	}
	perm := info.Mode().Perm()
	if perm&openToOthers == 0 {
		return 0, nil
	}
	return perm, os.Chmod(path, perm&^openToOthers)
}

// privateSnapshots is raft's FileSnapshotStore with every snapshot made
// private as it is written (see the top of this file).
type privateSnapshots struct {
	*raft.FileSnapshotStore
	dir string // <data dir>/snapshots
}

func newSnapshotStore(dataDir string, logger raftLogger) (privateSnapshots, error) {
	store, err := raft.NewFileSnapshotStoreWithLogger(dataDir, 2, logger)
	return privateSnapshots{store, filepath.Join(dataDir, snapshotsDir)}, err
}

// Create starts a snapshot and tightens its new directory and state file
// before raft writes any state into them.
func (s privateSnapshots) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.FileSnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, err
	}
	if _, err := tighten(s.dir); err != nil {
		sink.Cancel()
		return nil, fmt.Errorf("make the snapshot private: %w", err)
	}
	return privateSink{sink, s.dir}, nil
}

// privateSink tightens the snapshot once raft has finished it.
type privateSink struct {
	raft.SnapshotSink
	dir string
}

// Close completes the snapshot, which is when raft writes its meta.json
// (with os.Create) and renames the directory into place, then tightens
// that last file.
func (k privateSink) Close() error {
	if err := k.SnapshotSink.Close(); err != nil {
		return err
	}
	if _, err := tighten(k.dir); err != nil {
		return fmt.Errorf("make the snapshot private: %w", err)
	}
	return nil
}
