package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/proctest"
)

// bigBoltDataDir writes a data dir as the builds before the WAL left it:
// raft.db with a one-node configuration and n-1 no-op entries of 2 KiB
// after it, enough that copying them takes the real binary a noticeable
// time. n stays below raft's snapshot threshold (8,192 entries), so the
// server that finishes the migration keeps every entry in its log, for
// the test to compare.
func bigBoltDataDir(t *testing.T, n int) (string, []*raft.Log) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	const id = "node-killmigrate"
	if err := os.WriteFile(filepath.Join(dir, "node-id"), []byte(id+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := raftboltdb.NewBoltStore(filepath.Join(dir, "raft.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: id, Address: "inmem:" + id}}}
	logs := []*raft.Log{{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(conf), AppendedAt: time.Now()}}
	for i := uint64(2); i <= uint64(n); i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1 + i/4000, Type: raft.LogNoop,
			Data:       fmt.Appendf(bytes.Repeat([]byte{'.'}, 2048), "entry %d", i),
			Extensions: []byte{byte(i)}, AppendedAt: time.Unix(1700000000, int64(i))})
	}
	for i := 0; i < len(logs); i += 1000 {
		if err := s.StoreLogs(logs[i:min(i+1000, len(logs))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetUint64([]byte("CurrentTerm"), logs[len(logs)-1].Term); err != nil {
		t.Fatal(err)
	}
	return dir, logs
}

// TestServe_KillDashNineDuringMigration kill -9s the real binary while it
// migrates an 8,000-entry raft.db (16 MB), at moments found by watching the data
// dir: as soon as the new WAL appears, 20 ms and 200 ms into the copy,
// when the completion marker appears, when the WAL is renamed into place.
// Each restart goes on from what the last one left; the last one runs to
// the end: the migration is finished and every entry of raft.db is in the
// WAL, every field equal.
func TestServe_KillDashNineDuringMigration(t *testing.T) {
	dir, want := bigBoltDataDir(t, 8000)
	exists := func(rel string) func() bool {
		return func() bool { _, err := os.Stat(filepath.Join(dir, rel)); return err == nil }
	}
	for _, k := range []struct {
		name  string
		when  func() bool
		after time.Duration
	}{
		{"wal.migrating created", exists("wal.migrating"), 0},
		{"20 ms into the copy", exists("wal.migrating"), 20 * time.Millisecond},
		{"200 ms into the copy", exists("wal.migrating"), 200 * time.Millisecond},
		{"marker written", exists("wal.migrating/MIGRATED"), 0},
		{"wal renamed into place", exists("wal"), 0},
	} {
		cmd := exec.Command(binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
		cmd.Env = append(proctest.CleanEnv(), tokensEnv...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		seen := poll.Wait(10*time.Second, k.when)
		time.Sleep(k.after) // fault injection: how far into the copy the kill lands
		cmd.Process.Kill()
		cmd.Wait()
		_, walErr := os.Stat(filepath.Join(dir, "wal"))
		_, boltErr := os.Stat(filepath.Join(dir, "raft.db"))
		t.Logf("kill at %q (seen %v): wal in place %v, raft.db still there %v", k.name, seen, walErr == nil, boltErr == nil)
		if boltErr != nil && walErr != nil {
			t.Fatalf("neither raft.db nor wal after the kill")
		}
		if walErr == nil {
			break // migrated: later kill points are past
		}
	}
	p := startServe(t, tokensEnv, "--data-dir", dir)
	stopServe(t, p)
	checkWAL(t, filepath.Join(dir, "wal"), want)
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); !os.IsNotExist(err) {
		t.Fatalf("raft.db still there after the migration finished: %v", err)
	}
}

// checkWAL opens the WAL in dir and compares its first entries with want.
func checkWAL(t *testing.T, dir string, want []*raft.Log) {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	defer meta.Close()
	w, err := wal.Open(dir, wal.WithMetaStore(meta))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, l := range want {
		var got raft.Log
		if err := w.GetLog(l.Index, &got); err != nil {
			t.Fatalf("entry %d: %v", l.Index, err)
		}
		if got.Term != l.Term || got.Type != l.Type || string(got.Data) != string(l.Data) ||
			string(got.Extensions) != string(l.Extensions) || !got.AppendedAt.Equal(l.AppendedAt) {
			t.Fatalf("entry %d differs:\n got %+v\nwant %+v", l.Index, got, *l)
		}
	}
}
