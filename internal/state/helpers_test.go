package state

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"
)

const (
	t0   = int64(1_700_000_000) * int64(time.Second)
	skew = time.Second
)

var (
	alice = uuid.MustParse("00000000-0000-4000-8000-00000000a11c")
	bob   = uuid.MustParse("00000000-0000-4000-8000-000000000b0b")
)

// newState returns a State with users alice and bob.
func newState(t *testing.T) *State {
	t.Helper()
	s := New()
	mustApply(t, s, t0, SyncStaticUsers{Users: []StaticUser{
		{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("A")}},
		{ID: bob, Login: "bob", Hashes: []TokenHash{HashToken("B")}},
	}})
	return s
}

// at returns t0 plus d as unix nanoseconds.
func at(d time.Duration) int64 { return t0 + int64(d) }

func applyAt(s *State, now int64, cmd Command) Result {
	return s.Apply(Batch{Now: now, Skew: skew, Commands: []Command{cmd}})[0]
}

func mustApply(t *testing.T, s *State, now int64, cmd Command) Result {
	t.Helper()
	r := applyAt(s, now, cmd)
	if r.Err != nil {
		t.Fatalf("%T at %v: %v", cmd, time.Duration(now-t0), r.Err)
	}
	return r
}

func acquire(name string, holder uuid.UUID, ttl time.Duration) Acquire {
	return Acquire{Name: name, LeaseID: uuid.New(), HolderID: holder, TTL: ttl}
}

// fataler is what both *testing.T and *rapid.T offer.
type fataler interface{ Fatal(args ...any) }

func snapshotBytes(t fataler, s *State) []byte {
	var buf bytes.Buffer
	if _, err := s.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
