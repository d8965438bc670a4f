package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
)

// The Raft log and stable store are github.com/hashicorp/raft-wal in
// <data dir>/wal: append-only segment files (one fsync per append) and a
// small bolt file, wal-meta.db, listing the segments and holding raft's
// stable values (current term, last vote). Snapshots stay in
// <data dir>/snapshots.
const (
	walDir = "wal"
	// lockName is the data dir's lock file: raft-wal opens its bolt file
	// with no timeout, so without our own lock a second server on the same
	// data dir would hang instead of failing with ErrDataDirInUse.
	lockName = "lock"
)

// walSegmentSize is 16 MiB, a quarter of raft-wal's default: a segment is
// preallocated in full (fallocate), so this is the least disk a data dir
// takes, and the test suite runs dozens of nodes at once; sealing one and
// preallocating the next every 16 MiB of log costs little. Tests make it
// smaller still to have sealed segments.
var walSegmentSize = 16 << 20

// ErrCorruptLog: a Raft log file is damaged somewhere other than its torn
// tail. The server refuses to start rather than serve a shortened history.
var ErrCorruptLog = errors.New("raft log is corrupt")

// logStore is the WAL with the pieces raft-wal does not close itself.
type logStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

// Close closes the WAL, then its metadata file: WAL.Close leaves the
// bolt file (and its flock) open, which would block the next Open in the
// same process.
func (s *logStore) Close() error {
	return errors.Join(s.WAL.Close(), s.meta.Close())
}

// openLogStore opens (or creates) the WAL in dir after checking every
// segment it lists (see verifySegments): raft-wal's own recovery checks
// only the last batch of the last segment. Every file it makes is 0600.
func openLogStore(dir string, log *slog.Logger, logger hclog.Logger) (*logStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	meta := &metadb.BoltMetaDB{}
	persisted, err := meta.Load(dir)
	if err != nil {
		meta.Close()
		path := filepath.Join(dir, metadb.FileName)
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrCorruptLog, path, err)
	}
	tailEnd, err := verifySegments(dir, persisted.Segments)
	if err != nil {
		meta.Close()
		return nil, err
	}
	if tailEnd.torn {
		tail := filepath.Join(dir, segment.FileName(persisted.Segments[len(persisted.Segments)-1]))
		log.Warn("raft log ends in a batch torn by a crash: discarding it (it was never acknowledged)",
			"at", fmt.Sprintf("%s after offset %d", tail, tailEnd.goodEnd))
	}
	if err := completeSeal(dir, meta, persisted, tailEnd, log); err != nil {
		meta.Close()
		return nil, err
	}
	w, err := wal.Open(dir, wal.WithMetaStore(meta), wal.WithLogger(logger.Named("wal")),
		wal.WithSegmentFiler(truncSealFiler{segment.NewFiler(dir, privateFS{walfs.New()})}), wal.WithSegmentSize(walSegmentSize))
	if err != nil {
		meta.Close()
		if errors.Is(err, types.ErrCorrupt) {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorruptLog, dir, err)
		}
		return nil, fmt.Errorf("open raft log %s: %w", dir, err)
	}
	// wal-meta.db was created 0644 (less the umask) on first open.
	if _, err := tighten(dir); err != nil {
		w.Close()
		meta.Close()
		return nil, fmt.Errorf("make the raft log private: %w", err)
	}
	return &logStore{WAL: w, meta: meta}, nil
}

// truncSealFiler reads the segments raft-wal v0.4.0 seals without an
// index block. When raft removes the tail of the log (a follower whose
// last entries conflict with the leader's), the WAL marks the tail
// segment sealed but never writes its index (hashicorp/raft-wal#31, fixed
// after v0.4.0, which is the latest release the module proxy has). The
// next start then fails reading it ("sealed segment has no index block")
// and raft panics: the chaos test hit it within a minute. Such a segment
// is opened the way the tail is recovered instead, indexing its frames by
// reading them; it is never written to.
type truncSealFiler struct{ *segment.Filer }

func (f truncSealFiler) Open(info types.SegmentInfo) (types.SegmentReader, error) {
	if info.IndexStart == 0 && !info.SealTime.IsZero() {
		return f.Filer.RecoverTail(info)
	}
	return f.Filer.Open(info)
}

// privateFS makes each new segment file 0600: raft-wal creates them 0644
// (less the umask). The wal directory is 0700, so nobody else could open
// one in the moment between create and chmod.
type privateFS struct{ *walfs.FS }

func (p privateFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	f, err := p.FS.Create(dir, name, size)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Join(dir, name), 0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("make %s private: %w", name, err)
	}
	return f, nil
}

// HasRaftState reports whether dataDir holds a Raft log, in either layout
// (the WAL, or raft.db from a release before it), without opening or
// creating anything.
func HasRaftState(dataDir string) bool {
	for _, name := range []string{walDir, boltFile} {
		if _, err := os.Stat(filepath.Join(dataDir, name)); err == nil {
			return true
		}
	}
	return false
}
