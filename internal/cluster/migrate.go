package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Builds before the WAL kept the Raft log and stable store in
// <data dir>/raft.db (raft-boltdb). The first start of a build with the
// WAL copies it, in steps that are each safe to crash after:
//
//  1. delete any wal.migrating left by an earlier, interrupted attempt;
//  2. build the WAL in wal.migrating: every stable value, then every log
//     entry, each append fsynced;
//  3. write wal.migrating/MIGRATED (what was copied), fsync it and the dir;
//  4. rename wal.migrating to wal and fsync the data dir: the switch;
//  5. delete raft.db and fsync the data dir.
//
// raft.db is opened read-only and stays whole until step 5, so a crash
// before step 4 leaves the old layout as it was, and the next start redoes
// the copy from the beginning. A crash between 4 and 5 leaves both: the
// marker proves the WAL complete, and the next start checks that raft.db
// is the file it was copied from (its last index) and finishes step 5.
const (
	boltFile     = "raft.db"
	migratingDir = "wal.migrating"
	markerFile   = "MIGRATED"
)

// copyBatch entries go into each WAL append while copying (a variable so
// that tests can crash between batches of a small log).
var copyBatch = 512

// ErrMigration: the data dir is in a state the migration cannot resolve by
// itself (see the message), so the server refuses to start.
var ErrMigration = errors.New("cannot migrate the raft log")

// migrationHook, when set by a test, is called at every step boundary; an
// error from it stops the migration there, as a crash would.
var migrationHook func(step string) error

func atStep(step string) error {
	if migrationHook == nil {
		return nil
	}
	return migrationHook(step)
}

// migrationMarker records what a migration copied; step 5 trusts raft.db
// to be its source only if raft.db's last index is the one recorded.
type migrationMarker struct {
	FirstIndex uint64    `json:"first_index"`
	LastIndex  uint64    `json:"last_index"`
	Entries    uint64    `json:"entries"`
	StableKeys int       `json:"stable_keys"`
	At         time.Time `json:"at"`
}

// migrateBoltLog brings a data dir written by raft-boltdb over to the WAL
// (see the top of this file). The caller holds the data dir lock.
func migrateBoltLog(dataDir string, log *slog.Logger, raftLog hclog.Logger) error {
	boltPath := filepath.Join(dataDir, boltFile)
	if _, err := os.Stat(boltPath); errors.Is(err, os.ErrNotExist) {
		return os.RemoveAll(filepath.Join(dataDir, migratingDir))
	} else if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dataDir, walDir)); err == nil {
		return finishMigration(dataDir, log)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	start := time.Now()
	log.Info("migrating the raft log from raft.db to the WAL (once; raft.db stays until the copy is complete)", "data_dir", dataDir)
	if err := os.RemoveAll(filepath.Join(dataDir, migratingDir)); err != nil {
		return fmt.Errorf("remove an unfinished migration: %w", err)
	}
	if err := atStep("start"); err != nil {
		return err
	}
	m, err := copyBoltToWAL(boltPath, filepath.Join(dataDir, migratingDir), log, raftLog)
	if err != nil {
		return err
	}
	if err := writeMarker(filepath.Join(dataDir, migratingDir), m); err != nil {
		return err
	}
	if err := atStep("marked"); err != nil {
		return err
	}
	if err := renameSynced(dataDir, migratingDir, walDir); err != nil {
		return err
	}
	if err := atStep("renamed"); err != nil {
		return err
	}
	if err := removeSynced(dataDir, boltFile); err != nil {
		return err
	}
	log.Info("migrated the raft log from raft.db to the WAL", "entries", m.Entries, "first_index", m.FirstIndex,
		"last_index", m.LastIndex, "stable_keys", m.StableKeys, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// finishMigration handles a data dir holding both raft.db and wal: the
// state a crash between steps 4 and 5 leaves, or a human's doing.
func finishMigration(dataDir string, log *slog.Logger) error {
	m, err := readMarker(filepath.Join(dataDir, walDir, markerFile))
	if err != nil {
		return fmt.Errorf("%w: %s and %s both exist, and %s has no readable %s to prove it is complete (%v): move one of them away",
			ErrMigration, filepath.Join(dataDir, boltFile), filepath.Join(dataDir, walDir), walDir, markerFile, err)
	}
	last, err := boltLastIndex(filepath.Join(dataDir, boltFile))
	if err != nil {
		return err
	}
	if last != m.LastIndex {
		return fmt.Errorf("%w: %s ends at index %d, but the WAL was migrated from one ending at %d: it is not the file the WAL was copied from; move it away",
			ErrMigration, filepath.Join(dataDir, boltFile), last, m.LastIndex)
	}
	if err := removeSynced(dataDir, boltFile); err != nil {
		return err
	}
	log.Info("finished an interrupted raft log migration: removed raft.db, already copied to the WAL", "last_index", last)
	return nil
}

// openBolt opens raft.db read-only: the migration never changes it. The
// timeout turns an old server still running on it into ErrDataDirInUse.
func openBolt(path string) (*raftboltdb.BoltStore, error) {
	s, err := raftboltdb.New(raftboltdb.Options{Path: path,
		BoltOptions: &bbolt.Options{Timeout: time.Second, ReadOnly: true}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrDataDirInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

func boltLastIndex(path string) (uint64, error) {
	s, err := openBolt(path)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.LastIndex()
}

// copyBoltToWAL builds a complete WAL in dir from the bolt store at
// boltPath and closes it.
func copyBoltToWAL(boltPath, dir string, log *slog.Logger, raftLog hclog.Logger) (migrationMarker, error) {
	var m migrationMarker
	src, err := openBolt(boltPath)
	if err != nil {
		return m, err
	}
	defer src.Close()
	dst, err := openLogStore(dir, log, raftLog)
	if err != nil {
		return m, err
	}
	defer dst.Close()
	if err := atStep("created"); err != nil {
		return m, err
	}
	if m.StableKeys, err = copyStable(boltPath, dst); err != nil {
		return m, err
	}
	if err := atStep("stable-copied"); err != nil {
		return m, err
	}
	if m, err = copyLogs(src, dst, m); err != nil {
		return m, err
	}
	if err := atStep("logs-copied"); err != nil {
		return m, err
	}
	m.At = time.Now().UTC()
	return m, dst.Close()
}

// uint64Keys are the stable values raft writes with SetUint64, which the
// two stores encode differently: raft-boltdb big-endian, raft-wal
// little-endian. Copied byte for byte, a current term of 2 would read as
// 2<<56 from the WAL.
var uint64Keys = map[string]bool{"CurrentTerm": true, "LastVoteTerm": true}

// copyStable copies every key of raft-boltdb's stable bucket: raft's
// CurrentTerm and LastVoteTerm as numbers, LastVoteCand and anything else
// a raft version may have put there byte for byte. raft-boltdb has no way
// to list them, so this reads its bucket through a second read-only
// handle (a shared lock, like the first).
func copyStable(boltPath string, dst raft.StableStore) (int, error) {
	db, err := bbolt.Open(boltPath, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", boltPath, err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("conf"))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			n++
			if !uint64Keys[string(k)] {
				// bolt's slices are valid only inside the transaction
				return dst.Set(bytes.Clone(k), bytes.Clone(v))
			}
			if len(v) != 8 {
				return fmt.Errorf("%w: stable value %s is %d bytes, not a uint64", ErrMigration, k, len(v))
			}
			return dst.SetUint64(bytes.Clone(k), binary.BigEndian.Uint64(v))
		})
	})
	if err != nil {
		return 0, fmt.Errorf("copy raft's stable values: %w", err)
	}
	return n, nil
}

// copyLogs copies every log entry, all of its fields, in index order.
func copyLogs(src *raftboltdb.BoltStore, dst raft.LogStore, m migrationMarker) (migrationMarker, error) {
	first, err := src.FirstIndex()
	if err != nil {
		return m, err
	}
	last, err := src.LastIndex()
	if err != nil {
		return m, err
	}
	m.FirstIndex, m.LastIndex = first, last
	if last == 0 {
		return m, nil // no entries: a node that was never bootstrapped or joined
	}
	batch := make([]*raft.Log, 0, copyBatch)
	for i := first; i <= last; i++ {
		l := new(raft.Log)
		if err := src.GetLog(i, l); err != nil {
			return m, fmt.Errorf("read raft log entry %d of %d..%d: %w", i, first, last, err)
		}
		batch = append(batch, l)
		if len(batch) == copyBatch || i == last {
			if err := dst.StoreLogs(batch); err != nil {
				return m, fmt.Errorf("write raft log entries up to %d: %w", i, err)
			}
			m.Entries += uint64(len(batch))
			batch = batch[:0]
			if err := atStep("batch"); err != nil {
				return m, err
			}
		}
	}
	return m, checkCopied(dst, first, last)
}

// checkCopied confirms that the WAL now spans exactly first..last.
func checkCopied(dst raft.LogStore, first, last uint64) error {
	gotFirst, err := dst.FirstIndex()
	if err != nil {
		return err
	}
	gotLast, err := dst.LastIndex()
	if err != nil {
		return err
	}
	if gotFirst != first || gotLast != last {
		return fmt.Errorf("%w: the WAL holds %d..%d after copying %d..%d", ErrMigration, gotFirst, gotLast, first, last)
	}
	return nil
}
