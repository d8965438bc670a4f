package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"path"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The fuzz targets of this file replay their seed corpora under
// testdata/fuzz/<FuzzName>/ on every `go test`; run one for longer with
//
//	go test -run XXX -fuzz '^FuzzDecodeBatch$' -fuzztime 1m ./internal/state/

// FuzzDecodeBatch proves that DecodeBatch never panics on arbitrary bytes
// and refuses what it does not accept with ErrCorrupt or ErrInvalidCommand;
// that an accepted batch survives EncodeBatch/DecodeBatch unchanged (and
// its encoding is canonical); and that applying it to a State with users
// never panics, answers one Result per command, is deterministic (two
// replicas end in byte-identical snapshots, whether the commands come as
// one batch or one by one) and leaves a State whose snapshot restores
// byte-identically. Its corpus keeps two inputs that once broke that: an
// Acquire for a holder that is not a user, and a time near the end of
// int64 that overflowed FreeAt.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch(Batch{Now: t0, Skew: time.Second, Commands: everyCommand()}))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBatch(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("DecodeBatch error wraps neither ErrCorrupt nor ErrInvalidCommand: %v", err)
			}
			return
		}
		enc := EncodeBatch(b)
		again, err := DecodeBatch(enc)
		if err != nil {
			t.Fatalf("re-encoded batch does not decode: %v\nbatch %+v", err, b)
		}
		// Encoding writes the current version; the commands must survive.
		if again.Version != batchVersion {
			t.Fatalf("re-encoded batch read as version %d", again.Version)
		}
		again.Version, b.Version = 0, 0
		if !reflect.DeepEqual(again, b) {
			t.Fatalf("round trip changed the batch:\n got %+v\nwant %+v", again, b)
		}
		if !bytes.Equal(EncodeBatch(again), enc) {
			t.Fatal("EncodeBatch is not deterministic")
		}

		s, replica := newState(t), newState(t)
		res := s.Apply(b)
		if len(res) != len(b.Commands) {
			t.Fatalf("%d results for %d commands", len(res), len(b.Commands))
		}
		// The replica applies the commands one batch each: same results,
		// same state.
		replica.Apply(Batch{Now: b.Now, Skew: b.Skew}) // the clock moves even for an empty batch
		for i, c := range b.Commands {
			r := replica.Apply(Batch{Now: b.Now, Skew: b.Skew, Commands: []Command{c}})
			if !reflect.DeepEqual(r[0], res[i]) {
				t.Fatalf("command %d (%T): %+v applied alone, %+v in the batch", i, c, r[0], res[i])
			}
		}
		snap := snapshotBytes(t, s)
		if !bytes.Equal(snapshotBytes(t, replica), snap) {
			t.Fatal("two replicas applying the same commands diverged")
		}
		restored, err := Restore(bytes.NewReader(snap))
		if err != nil {
			t.Fatalf("the state after applying the batch does not restore: %v\nbatch %+v", err, b)
		}
		if !bytes.Equal(snapshotBytes(t, restored), snap) {
			t.Fatal("restoring the state after the batch changed its snapshot")
		}
	})
}

// FuzzRestoreSnapshot proves that Restore never panics on arbitrary bytes
// and that whatever it accepts is a consistent State: its own snapshot
// restores to byte-identical bytes, and expiring everything afterwards
// (which walks the rebuilt deadline and session indexes) leaves no lock
// and nothing scheduled. Each input is tried twice: as given, and with its
// last four bytes replaced by the right CRC, so that the fuzzer reaches
// the section decoders instead of stopping at the checksum.
func FuzzRestoreSnapshot(f *testing.F) {
	f.Add(snapshotBytes(f, New()))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRestore(t, data)
		if len(data) >= 4 {
			fixed := bytes.Clone(data)
			body := fixed[:len(fixed)-4]
			binary.BigEndian.PutUint32(fixed[len(fixed)-4:], crc32.ChecksumIEEE(body))
			checkRestore(t, fixed)
		}
	})
}

func checkRestore(t *testing.T, data []byte) {
	t.Helper()
	s, err := Restore(bytes.NewReader(data))
	if err != nil {
		if s != nil {
			t.Fatalf("Restore returned a State along with error %v", err)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Restore of in-memory bytes failed without ErrCorrupt: %v", err)
		}
		return
	}
	snap := snapshotBytes(t, s)
	again, err := Restore(bytes.NewReader(snap))
	if err != nil {
		t.Fatalf("the snapshot of a restored State does not restore: %v", err)
	}
	if !bytes.Equal(snapshotBytes(t, again), snap) {
		t.Fatal("Restore(WriteTo(s)) does not reproduce the same bytes")
	}
	// At the end of time every lock and live session is due, and every
	// tombstone too (its deadline overflows, which only makes it earlier).
	res := s.Apply(Batch{Now: math.MaxInt64, Skew: 0, Commands: []Command{ExpireDue{Limit: maxExpireLimit}}})
	if res[0].Err != nil {
		t.Fatalf("ExpireDue: %v", res[0].Err)
	}
	if res[0].Count == maxExpireLimit {
		return // more records than one ExpireDue ends; not reachable from a small input
	}
	if n := s.LockCount(); n != 0 {
		t.Fatalf("%d locks left after expiring everything: the deadline index missed them", n)
	}
	if d, ok := s.NextDeadline(); ok {
		t.Fatalf("deadline %d still scheduled after expiring everything", d)
	}
}

// lockNameRE is the documented grammar of lock names, written out
// independently of ValidLockName.
var lockNameRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+(/[a-zA-Z0-9._-]+)*$`)

// specLockName is the documented rule: the grammar above, at most 256
// bytes, components of 1..64 bytes, no "." or ".." component.
func specLockName(name string) bool {
	if len(name) > 256 || !lockNameRE.MatchString(name) {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if len(c) < 1 || len(c) > 64 || c == "." || c == ".." {
			return false
		}
	}
	return true
}

// FuzzLockName proves that ValidLockName never panics and accepts exactly
// the names the documented rules allow (checked by specLockName, a
// separate regexp-based implementation of the rules).
func FuzzLockName(f *testing.F) {
	for _, s := range []string{"a", "svc/db", "a//b", "/a", "a/", ".", "a/../b", "..a", "a.b/-_/C9",
		strings.Repeat("x", 64), strings.Repeat("x", 65), strings.Repeat("a/", 128) + "a", "ü", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidLockName(name)
		if want := specLockName(name); (err == nil) != want {
			t.Fatalf("ValidLockName(%q) = %v, but the documented rules say valid=%v", name, err, want)
		}
	})
}

// refMatch is an independent matcher for valid patterns and names: '**'
// components by memoized recursion, each other component by path.Match
// (its only special character left in a valid pattern is '*').
func refMatch(pattern, name string) bool {
	p, n := strings.Split(pattern, "/"), strings.Split(name, "/")
	memo := map[[2]int]bool{}
	var match func(i, j int) bool
	match = func(i, j int) bool {
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		var ok bool
		switch {
		case i == len(p):
			ok = j == len(n)
		case p[i] == "**":
			ok = match(i+1, j) || (j < len(n) && match(i, j+1))
		case j < len(n):
			m, err := path.Match(p[i], n[j])
			ok = err == nil && m && match(i+1, j+1)
		}
		memo[key] = ok
		return ok
	}
	return match(0, 0)
}

// FuzzPattern proves that ValidPattern and MatchPattern never panic (on
// any strings, valid or not); that a valid pattern without '*' matches
// exactly the string equal to it; that "**" matches every valid lock name
// and every valid lock name is a valid pattern matching itself; and that
// on valid inputs MatchPattern agrees with refMatch.
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{{"svc/*/lock", "svc/a/lock"}, {"svc/**", "svc/a/b/c"}, {"**", "a"},
		{"a/**/b", "a/b"}, {"*a*b*", "xaybz"}, {"a/***", "a/b"}, {"a//b", "a//b"}, {"*.*", "v1.2"},
		{"**/x/**/y", "x/y/x/y"}, {"a*", "a/b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		perr := ValidPattern(pattern)
		got := MatchPattern(pattern, name)
		nameOK := ValidLockName(name) == nil
		if nameOK {
			if !MatchPattern("**", name) {
				t.Fatalf("** does not match valid name %q", name)
			}
			if ValidPattern(name) != nil || !MatchPattern(name, name) {
				t.Fatalf("valid name %q is not a valid pattern matching itself", name)
			}
		}
		if perr != nil {
			return
		}
		if !strings.Contains(pattern, "*") && got != (pattern == name) {
			t.Fatalf("MatchPattern(%q, %q) = %v for a pattern without '*'", pattern, name, got)
		}
		if nameOK {
			if want := refMatch(pattern, name); got != want {
				t.Fatalf("MatchPattern(%q, %q) = %v, reference matcher says %v", pattern, name, got, want)
			}
		}
	})
}
