//go:build unix

package cluster

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// looseEntries lists what under dir group or others may access, without
// following links.
func looseEntries(t *testing.T, dir string) []string {
	t.Helper()
	var loose []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err == nil && d.Type()&fs.ModeSymlink == 0 && info.Mode().Perm()&0o077 != 0 {
			loose = append(loose, path+" "+info.Mode().String())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return loose
}

// premadeDir makes what an image or a careless operator leaves behind: a
// world-readable data dir with a readable file and subdirectory in it.
func premadeDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	for _, d := range []string{dir, filepath.Join(dir, "old")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777) // whatever the umask
	}
	for _, f := range []string{filepath.Join(dir, "notes.txt"), filepath.Join(dir, "old", "state.bin")} {
		if err := os.WriteFile(f, []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(f, 0o666)
	}
	return dir
}

// withUmask runs the test under umask mask: with 0, everything raft
// creates with default modes would come out world-readable.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// TestNode_DataDirIsPrivate: whatever the umask and whoever made the data
// dir, nothing in it is open to other users after start and after
// snapshots, and the tightening is reported in one log line.
func TestNode_DataDirIsPrivate(t *testing.T) {
	withUmask(t, 0)
	dir := premadeDir(t)
	logs := &logSink{changed: make(chan struct{})}
	n := openNodeWith(t, Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	addUser(t, n)
	for i := range 2 {
		mustApply(t, n, state.Acquire{Name: "snap/" + string(rune('a'+i)), LeaseID: uuid.New(), HolderID: user, TTL: time.Hour})
		if err := n.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	states, _ := filepath.Glob(filepath.Join(dir, snapshotsDir, "*", "state.bin"))
	if len(states) != 2 {
		t.Fatalf("%d snapshots on disk, want 2: %v", len(states), states)
	}
	if loose := looseEntries(t, dir); len(loose) != 0 {
		t.Fatalf("open to others after start and two snapshots:\n%s", strings.Join(loose, "\n"))
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var tightened []string
	for _, l := range lines {
		if strings.Contains(l, "open to other users") {
			tightened = append(tightened, l)
		}
	}
	if len(tightened) != 1 || !strings.Contains(tightened[0], "notes.txt") || !strings.Contains(tightened[0], "state.bin") ||
		!strings.Contains(tightened[0], "tightened=4") {
		t.Fatalf("want one line naming the 4 tightened entries, got:\n%s", strings.Join(tightened, "\n"))
	}
}

// TestNode_RestartOfAPrivateDirLogsNothing: the warning is for a change,
// not for every start.
func TestNode_RestartOfAPrivateDirLogsNothing(t *testing.T) {
	dir := premadeDir(t)
	openNode(t, dir).Close()
	logs := &logSink{changed: make(chan struct{})}
	openNodeWith(t, Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(logs, nil))}).Close()
	if strings.Contains(logs.String(), "open to other users") {
		t.Fatalf("a private data dir was reported:\n%s", logs)
	}
}

// TestTighten_LeavesLinkTargetsAlone: a symbolic link in the data dir is
// not followed, so start cannot be used to chmod a file elsewhere.
func TestTighten_LeavesLinkTargetsAlone(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "shared.txt")
	os.WriteFile(outside, nil, 0o644)
	os.Chmod(outside, 0o644)
	dir := premadeDir(t)
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := tighten(dir); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(outside); info.Mode().Perm() != 0o644 {
		t.Fatalf("the link's target outside the data dir became %v", info.Mode().Perm())
	}
	if loose := looseEntries(t, dir); len(loose) != 0 {
		t.Fatalf("still open: %v", loose)
	}
}

// TestNode_WALIsPrivate: raft-wal creates its files 0644; with umask 0,
// the segments made while running (small segments: several rotations),
// its metadata file, the lock file, and everything a migration of the
// fixture made, are 0600 in 0700 directories.
func TestNode_WALIsPrivate(t *testing.T) {
	withUmask(t, 0)
	defer func(s int) { walSegmentSize = s }(walSegmentSize)
	walSegmentSize = 4096
	dir := t.TempDir()
	writeLocks(t, dir, 80)
	if seg := segments(t, dir); len(seg) < 2 {
		t.Fatalf("%d segments, want rotations", len(seg))
	}
	migrated, _ := copyFixture(t) // files from the checkout are 0644
	openNode(t, migrated).Close()
	if _, err := os.Stat(filepath.Join(migrated, walDir, markerFile)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, migrated} {
		if loose := looseEntries(t, d); len(loose) != 0 {
			t.Fatalf("open to others:\n%s", strings.Join(loose, "\n"))
		}
	}
}
