package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

var errCrash = errors.New("crash injected by the test")

// crashAt makes the migration stop at the nth time it reaches step, as a
// kill -9 there would: nothing is cleaned up, the files stay as they are.
func crashAt(t *testing.T, step string, nth int) {
	seen := 0
	migrationHook = func(s string) error {
		if s == step {
			if seen++; seen == nth {
				return fmt.Errorf("%w at %s #%d", errCrash, s, nth)
			}
		}
		return nil
	}
	t.Cleanup(func() { migrationHook = nil })
}

// TestMigration_CrashAtEveryStep stops the migration of the fixture at
// every step boundary (between two copied batches too), checks that the
// old raft.db is untouched until the WAL is in place, then starts again:
// the migration finishes and every entry and stable value is there.
func TestMigration_CrashAtEveryStep(t *testing.T) {
	defer func(b int) { copyBatch = b }(copyBatch)
	copyBatch = 4 // several batches even in the small fixture
	for _, c := range []struct {
		step     string
		nth      int
		walReady bool // the crash comes after the rename into place
	}{
		{"start", 1, false}, {"created", 1, false}, {"stable-copied", 1, false},
		{"batch", 1, false}, {"batch", 2, false}, {"logs-copied", 1, false},
		{"marked", 1, false}, {"renamed", 1, true},
	} {
		t.Run(fmt.Sprintf("%s#%d", c.step, c.nth), func(t *testing.T) {
			dir, fx := copyFixture(t)
			want := readBolt(t, filepath.Join(dir, boltFile))
			crashAt(t, c.step, c.nth)
			if _, err := Open(Config{DataDir: dir, Logger: quietLogger()}); !errors.Is(err, errCrash) {
				t.Fatalf("Open with a crash at %s: %v", c.step, err)
			}
			if got := readBolt(t, filepath.Join(dir, boltFile)); len(got.logs) != len(want.logs) {
				t.Fatalf("raft.db changed by an unfinished migration: %d entries, was %d", len(got.logs), len(want.logs))
			}
			_, err := os.Stat(filepath.Join(dir, walDir))
			if walThere := err == nil; walThere != c.walReady {
				t.Fatalf("wal dir there after a crash at %s: %v", c.step, walThere)
			}
			migrationHook = nil
			if err := migrate(dir); err != nil {
				t.Fatalf("restart after a crash at %s: %v", c.step, err)
			}
			checkMigrated(t, dir, want)
			n := openNode(t, dir)
			defer n.Close()
			checkFixtureLive(t, n, fx)
		})
	}
}

// TestMigration_BothWithoutMarker: a wal dir without the marker next to
// raft.db is not a migration this code made: refuse, naming both.
func TestMigration_BothWithoutMarker(t *testing.T) {
	dir, _ := copyFixture(t)
	if err := os.Mkdir(filepath.Join(dir, walDir), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Config{DataDir: dir, Logger: quietLogger()})
	if !errors.Is(err, ErrMigration) || !strings.Contains(err.Error(), filepath.Join(dir, boltFile)) {
		t.Fatalf("Open = %v, want ErrMigration naming raft.db", err)
	}
}

// TestMigration_ForeignBolt: a raft.db next to a migrated WAL that is not
// the file it was copied from (an old binary started on the dir after the
// upgrade writes a new one) is refused, not deleted.
func TestMigration_ForeignBolt(t *testing.T) {
	dir, _ := copyFixture(t)
	fixtureDB, err := os.ReadFile(filepath.Join(dir, boltFile))
	if err != nil {
		t.Fatal(err)
	}
	n := openNode(t, dir) // migrates
	n.Close()
	s, err := raftboltdb.NewBoltStore(filepath.Join(dir, boltFile))
	if err != nil {
		t.Fatal(err)
	}
	s.StoreLog(&raft.Log{Index: 1, Term: 1, Type: raft.LogNoop})
	s.Close()
	_, err = Open(Config{DataDir: dir, Logger: quietLogger()})
	if !errors.Is(err, ErrMigration) {
		t.Fatalf("Open = %v, want ErrMigration", err)
	}
	// The genuine source, put back, is recognised and removed.
	if err := os.WriteFile(filepath.Join(dir, boltFile), fixtureDB, 0o600); err != nil {
		t.Fatal(err)
	}
	openNode(t, dir).Close()
	if _, err := os.Stat(filepath.Join(dir, boltFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("raft.db not removed: %v", err)
	}
}

// TestMigration_AllFields: a log that snapshots have shortened (first
// index 100), every entry type, extensions, AppendedAt, and a stable key
// raft does not write today, all come across unchanged.
func TestMigration_AllFields(t *testing.T) {
	dir := t.TempDir()
	s, err := raftboltdb.NewBoltStore(filepath.Join(dir, boltFile))
	if err != nil {
		t.Fatal(err)
	}
	types := []raft.LogType{raft.LogCommand, raft.LogNoop, raft.LogConfiguration, raft.LogBarrier}
	var logs []*raft.Log
	for i := uint64(100); i < 100+1500; i++ { // more than one copy batch
		logs = append(logs, &raft.Log{Index: i, Term: 7 + i/1000, Type: types[i%4], Data: []byte(fmt.Sprintf("data-%d", i)),
			Extensions: []byte(fmt.Sprintf("ext-%d", i)), AppendedAt: time.Unix(1700000000, int64(i)).UTC()})
	}
	for _, kv := range [][2]string{{"LastVoteCand", "node-a"}, {"Custom", "\x00\x01raw"}} {
		s.Set([]byte(kv[0]), []byte(kv[1]))
	}
	s.SetUint64([]byte("CurrentTerm"), 8)
	s.SetUint64([]byte("LastVoteTerm"), 8)
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	want := readBolt(t, filepath.Join(dir, boltFile))
	if err := migrate(dir); err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, dir, want)
	m, err := readMarker(filepath.Join(dir, walDir, markerFile))
	if err != nil || m.FirstIndex != 100 || m.LastIndex != 1599 || m.Entries != 1500 || m.StableKeys != 4 {
		t.Fatalf("marker %+v, %v", m, err)
	}
}

// TestMigration_OldServerRunning: raft.db held by a running old release
// (its bolt lock) makes the start fail with ErrDataDirInUse, at once.
func TestMigration_OldServerRunning(t *testing.T) {
	dir, _ := copyFixture(t)
	old, err := raftboltdb.NewBoltStore(filepath.Join(dir, boltFile))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := Open(Config{DataDir: dir, Logger: quietLogger()}); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("Open = %v, want ErrDataDirInUse", err)
	}
}
