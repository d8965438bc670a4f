package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"

	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/state"
)

// writeLocks opens a node on dir, acquires n locks one at a time (one
// Raft entry, so one WAL batch, each), closes it and returns their names.
func writeLocks(t *testing.T, dir string, n int) []string {
	t.Helper()
	node := openNode(t, dir)
	defer node.Close()
	addUser(t, node)
	var names []string
	for i := range n {
		name := fmt.Sprintf("wal/%03d", i)
		mustApply(t, node, state.Acquire{Name: name, LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
		names = append(names, name)
	}
	return names
}

// heldLocks opens the node on dir and says which of names are held.
func heldLocks(t *testing.T, dir string, names []string) []bool {
	t.Helper()
	n := openNode(t, dir)
	defer n.Close()
	held := make([]bool, len(names))
	n.Read(context.Background(), true, func(v state.View, now int64) {
		for i, name := range names {
			_, held[i] = v.GetLock(name, now)
		}
	})
	return held
}

// segments lists the data dir's WAL segment files, oldest first.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, walDir, "*.wal"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no segments in %s: %v", dir, err)
	}
	slices.Sort(files)
	return files
}

// batch is one append in a segment: its entry frames and its commit.
type batch struct{ start, commit int64 }

// batches lists the committed batches of a segment file.
func batches(t *testing.T, path string) []batch {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &segReader{f: f}
	var out []batch
	start := int64(segFileHeaderLen)
	for pos := start; ; {
		h := r.at(pos, segFrameHeaderLen)
		if len(h) < segFrameHeaderLen || h[0] == 0 {
			return out
		}
		if h[0] == frameCommit {
			out = append(out, batch{start, pos})
			pos += segFrameHeaderLen
			start = pos
			continue
		}
		l := int(h[4]) | int(h[5])<<8 | int(h[6])<<16 | int(h[7])<<24
		pos += int64(segFrameHeaderLen + l + padTo8(l))
	}
}

// patch overwrites bytes of a file at off.
func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestWAL_TornTail: the last segment cut off in the middle of its last
// record, or that record's commit garbled, as a crash mid-append leaves
// it: the server starts, the torn record is gone, and every record
// before it is there.
func TestWAL_TornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		tear func(t *testing.T, path string, last batch)
	}{
		{"truncated mid-record", func(t *testing.T, path string, last batch) {
			if err := os.Truncate(path, last.start+segFrameHeaderLen+5); err != nil {
				t.Fatal(err)
			}
		}},
		{"commit checksum wrong", func(t *testing.T, path string, last batch) {
			patch(t, path, last.commit+4, []byte{0xde, 0xad, 0xbe, 0xef})
		}},
		{"commit never written", func(t *testing.T, path string, last batch) {
			patch(t, path, last.commit, make([]byte, segFrameHeaderLen))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			names := writeLocks(t, dir, 10)
			seg := segments(t, dir)
			path := seg[len(seg)-1]
			b := batches(t, path)
			tc.tear(t, path, b[len(b)-1])
			held := heldLocks(t, dir, names)
			want := slices.Repeat([]bool{true}, len(names))
			want[len(want)-1] = false
			if !slices.Equal(held, want) {
				t.Fatalf("held after a torn tail: %v, want %v", held, want)
			}
		})
	}
}

// TestWAL_CorruptMiddle: a record damaged anywhere but the torn tail (a
// flipped byte in its data, a garbled or zeroed frame header) makes the
// start fail with ErrCorruptLog naming the file. raft-wal alone would
// open such a log cut short at the damage and serve it.
func TestWAL_CorruptMiddle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		off   func(b batch) int64
		bytes []byte
	}{
		{"data byte flipped", func(b batch) int64 { return b.start + segFrameHeaderLen + 3 }, []byte{0xff}},
		{"frame type garbled", func(b batch) int64 { return b.start }, []byte{0x09}},
		{"frame header zeroed", func(b batch) int64 { return b.start }, make([]byte, segFrameHeaderLen)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeLocks(t, dir, 10)
			seg := segments(t, dir)
			path := seg[len(seg)-1]
			b := batches(t, path)
			patch(t, path, tc.off(b[len(b)/2]), tc.bytes)
			_, err := Open(Config{DataDir: dir, Logger: quietLogger()})
			if !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v, want ErrCorruptLog naming %s", err, path)
			}
		})
	}
}

// TestWAL_SealedSegments: with small segments the log spans sealed ones;
// they reopen intact, and damage in one of them is refused.
func TestWAL_SealedSegments(t *testing.T) {
	defer func(s int) { walSegmentSize = s }(walSegmentSize)
	walSegmentSize = 4096
	dir := t.TempDir()
	names := writeLocks(t, dir, 80)
	seg := segments(t, dir)
	if len(seg) < 2 {
		t.Fatalf("%d segments, want several", len(seg))
	}
	if held := heldLocks(t, dir, names); slices.Contains(held, false) {
		t.Fatalf("held after reopening sealed segments: %v", held)
	}
	b := batches(t, seg[0])
	patch(t, seg[0], b[len(b)/2].start+segFrameHeaderLen+3, []byte{0xff})
	_, err := Open(Config{DataDir: dir, Logger: quietLogger()})
	if !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), seg[0]) {
		t.Fatalf("Open = %v, want ErrCorruptLog naming %s", err, seg[0])
	}
}

// TestWAL_RestoreBackup: restoring a snapshot over a log leaves a gap in
// the indexes, which the WAL accepts only because raft, told that the
// store is monotonic through the timing wrapper and the cache, empties
// the log first.
func TestWAL_RestoreBackup(t *testing.T) {
	src := openNode(t, t.TempDir())
	addUser(t, src)
	mustApply(t, src, state.Acquire{Name: "backup/a", LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
	var backup bytes.Buffer
	err := src.WriteSnapshot(context.Background(), &backup)
	src.Close()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := writeLocks(t, dir, 3)
	n := openNode(t, dir)
	defer n.Close()
	if err := n.RestoreBackup(backup.Bytes()); err != nil {
		t.Fatal(err)
	}
	mustApply(t, n, state.Acquire{Name: "after/restore", LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
	n.Read(context.Background(), true, func(v state.View, now int64) {
		if _, ok := v.GetLock("backup/a", now); !ok {
			t.Error("the backup's lock is missing")
		}
		if _, ok := v.GetLock(names[0], now); ok {
			t.Error("a lock from before the restore survived it")
		}
	})
}

// TestWAL_ResidueAfterTornTail: after a torn batch, the next append is
// written at the torn one's place; when it is shorter, the rest of the
// torn batch stays behind it (entry frames, a commit whose CRC does not
// cover them). That is not corruption: the node starts with everything.
func TestWAL_ResidueAfterTornTail(t *testing.T) {
	dir := t.TempDir()
	names := writeLocks(t, dir, 10)
	seg := segments(t, dir)
	path := seg[len(seg)-1]
	b := batches(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	last := b[len(b)-1]
	end := last.commit + segFrameHeaderLen
	// Leftovers of a longer batch: half a frame of junk, then two whole
	// entry frames copied from earlier batches, then their old commit.
	var residue []byte
	residue = append(residue, 0x01, 0, 0, 0, 0xff, 0xff, 0, 0) // a frame header cut by the new append
	for _, e := range b[2:4] {
		residue = append(residue, data[e.start:e.commit]...)
	}
	residue = append(residue, frameCommit, 0, 0, 0, 0x12, 0x34, 0x56, 0x78)
	patch(t, path, end, residue)
	if held := heldLocks(t, dir, names); slices.Contains(held, false) {
		t.Fatalf("held with residue after the tail: %v", held)
	}
}

// TestWAL_ReopenAfterTailTruncation: raft removing the end of the log (a
// follower's conflicting entries) makes raft-wal v0.4.0 seal the tail
// segment without an index block; reopening must still read every entry
// of it. Without truncSealFiler the reads fail and raft panics at start
// (found by the chaos test).
func TestWAL_ReopenAfterTailTruncation(t *testing.T) {
	dir := t.TempDir()
	open := func() *logStore {
		s, err := openLogStore(dir, quietLogger(), newRaftLogger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	entries := func(from, to, term uint64) []*raft.Log {
		var logs []*raft.Log
		for i := from; i <= to; i++ {
			logs = append(logs, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte(fmt.Sprintf("%d@%d", i, term))})
		}
		return logs
	}
	s := open()
	if err := s.StoreLogs(entries(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(8, 10); err != nil { // the conflicting suffix
		t.Fatal(err)
	}
	if err := s.StoreLogs(entries(8, 12, 2)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	for i := uint64(1); i <= 12; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d after reopening: %v", i, err)
		}
		term := uint64(1)
		if i >= 8 {
			term = 2
		}
		if l.Term != term || string(l.Data) != fmt.Sprintf("%d@%d", i, term) {
			t.Fatalf("entry %d: %+v", i, l)
		}
	}
}

// TestWAL_CorruptMetaFile: wal-meta.db (the segment list and raft's term
// and vote) damaged in both of bolt's meta pages refuses the start with
// an error naming it.
func TestWAL_CorruptMetaFile(t *testing.T) {
	dir := t.TempDir()
	writeLocks(t, dir, 3)
	path := filepath.Join(dir, walDir, "wal-meta.db")
	patch(t, path, 0, bytes.Repeat([]byte{0xa5}, 8192))
	_, err := Open(Config{DataDir: dir, Logger: quietLogger()})
	if !errors.Is(err, ErrCorruptLog) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v, want ErrCorruptLog naming %s", err, path)
	}
}

// TestWAL_InterruptedRotation: a stop between sealing a full segment
// (its index written with its last entries) and recording the rotation in
// wal-meta.db leaves the sealed file listed as the tail. The node must
// start, keep every entry and write again (raft-wal v0.4.0 alone refuses
// every append: "segment is sealed").
func TestWAL_InterruptedRotation(t *testing.T) {
	defer func(s int) { walSegmentSize = s }(walSegmentSize)
	walSegmentSize = 4096
	dir := t.TempDir()
	names := writeUntilSealed(t, dir)
	unrecordLastRotation(t, filepath.Join(dir, walDir))
	n := openNode(t, dir)
	mustApply(t, n, state.Acquire{Name: "after/rotation", LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
	n.Close()
	if held := heldLocks(t, dir, append(names, "after/rotation")); slices.Contains(held, false) {
		t.Fatalf("held after the completed rotation: %v", held)
	}
}

// writeUntilSealed acquires locks one at a time until an append seals
// the tail segment, waits for raft-wal to start the next one (no entry
// goes there), and closes the node.
func writeUntilSealed(t *testing.T, dir string) []string {
	t.Helper()
	node := openNode(t, dir)
	defer node.Close()
	addUser(t, node)
	var names []string
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("wal/%03d", i)
		mustApply(t, node, state.Acquire{Name: name, LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
		names = append(names, name)
		seg := segments(t, dir)
		if end, _ := verifySegment(seg[len(seg)-1], types.SegmentInfo{}, true); end.sealAt > 0 {
			poll.Until(t, 10*time.Second, "the next segment", func() bool { return len(segments(t, dir)) > len(seg) })
			return names
		}
	}
	t.Fatal("no segment was sealed")
	return nil
}

// unrecordLastRotation makes wal-meta.db say what it said before the last
// rotation was recorded: the sealed segment is the unsealed tail again,
// and the segment after it was never made.
func unrecordLastRotation(t *testing.T, dir string) {
	t.Helper()
	meta := &metadb.BoltMetaDB{}
	defer meta.Close()
	st, err := meta.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := len(st.Segments)
	if n < 2 || !st.Segments[n-1].SealTime.IsZero() {
		t.Fatalf("want sealed segments and an unsealed tail, have %+v", st.Segments)
	}
	if end, _ := verifySegment(filepath.Join(dir, segment.FileName(st.Segments[n-1])), st.Segments[n-1], true); end.entries > 0 {
		t.Fatalf("the new tail already holds %d entries", end.entries)
	}
	if err := os.Remove(filepath.Join(dir, segment.FileName(st.Segments[n-1]))); err != nil {
		t.Fatal(err)
	}
	prev := st.Segments[n-2]
	prev.SealTime, prev.IndexStart, prev.MaxIndex = time.Time{}, 0, 0
	st.Segments = append(st.Segments[:n-2], prev)
	st.NextSegmentID--
	if err := meta.CommitState(st); err != nil {
		t.Fatal(err)
	}
}
