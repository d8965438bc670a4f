package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/octostore/octostore/internal/state"
)

// fixture is testdata/bolt-v1/fixture.json: what make-fixture.sh wrote
// through the API of the last release with raft.db.
type fixture struct {
	Token string `json:"token"`
	Locks map[string]struct {
		LeaseID      uuid.UUID `json:"lease_id"`
		FencingToken uint64    `json:"fencing_token"`
		SessionID    uuid.UUID `json:"session_id"`
	} `json:"locks"`
	SessionID   uuid.UUID `json:"session_id"`
	WebhookID   uuid.UUID `json:"webhook_id"`
	ScopedToken struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	} `json:"scoped_token"`
}

// boltContents is everything a raft.db holds for raft.
type boltContents struct {
	logs   []*raft.Log
	stable map[string][]byte
}

// copyFixture copies the fixture data dir into a new temp dir.
func copyFixture(t *testing.T) (string, fixture) {
	t.Helper()
	var fx fixture
	data, err := os.ReadFile("testdata/bolt-v1/fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/bolt-v1/data")); err != nil {
		t.Fatal(err)
	}
	return dir, fx
}

// readBolt reads every log entry and stable value of a raft.db.
func readBolt(t *testing.T, path string) boltContents {
	t.Helper()
	s, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{ReadOnly: true, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	c := boltContents{stable: map[string][]byte{}}
	for i := first; i <= last && last > 0; i++ {
		l := new(raft.Log)
		if err := s.GetLog(i, l); err != nil {
			t.Fatal(err)
		}
		c.logs = append(c.logs, l)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("conf")).ForEach(func(k, v []byte) error {
			c.stable[string(k)] = slices.Clone(v)
			return nil
		})
	})
	return c
}

// checkMigrated checks that the data dir's WAL holds every entry of want,
// every field equal, and every stable value, and that raft.db is gone.
func checkMigrated(t *testing.T, dataDir string, want boltContents) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dataDir, boltFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("raft.db still there after the migration: %v", err)
	}
	for _, leftover := range []string{migratingDir} {
		if _, err := os.Stat(filepath.Join(dataDir, leftover)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after the migration: %v", leftover, err)
		}
	}
	s, err := openLogStore(filepath.Join(dataDir, walDir), quietLogger(), newRaftLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, w := range want.logs {
		var got raft.Log
		if err := s.GetLog(w.Index, &got); err != nil {
			t.Fatalf("entry %d: %v", w.Index, err)
		}
		if !sameLog(&got, w) {
			t.Fatalf("entry %d differs:\n got %+v\nwant %+v", w.Index, got, *w)
		}
	}
	for k, v := range want.stable {
		if uint64Keys[k] {
			got, err := s.GetUint64([]byte(k))
			if want := binary.BigEndian.Uint64(v); err != nil || got != want {
				t.Errorf("stable %s = %d, %v; want %d", k, got, err, want)
			}
			continue
		}
		got, err := s.Get([]byte(k))
		if err != nil || string(got) != string(v) {
			t.Errorf("stable %s = %x, %v; want %x", k, got, err, v)
		}
	}
}

// migrate runs the migration alone, as Open does before raft starts.
func migrate(dataDir string) error {
	return migrateBoltLog(dataDir, quietLogger(), newRaftLogger(quietLogger()))
}

func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type && string(a.Data) == string(b.Data) &&
		string(a.Extensions) == string(b.Extensions) && a.AppendedAt.Equal(b.AppendedAt)
}

// replay applies entries to a fresh state machine, as raft does at
// start, and returns the state with the time of its last entry.
func replay(logs []*raft.Log) (*state.State, int64) {
	f := newFSM(quietLogger(), nopObserver{})
	f.ApplyBatch(logs)
	return f.st, f.st.LastNow()
}

// TestMigration_Fixture: a data dir written by the last release with
// raft.db is migrated on the first start, loses nothing (every entry and
// stable value, so the state as of its last entry: locks with their
// leases and fencing tokens, the session, users, tokens, webhook), and
// takes new writes; the next start does not migrate again.
func TestMigration_Fixture(t *testing.T) {
	dir, fx := copyFixture(t)
	want := readBolt(t, filepath.Join(dir, boltFile))
	if len(want.logs) < 5 || len(want.stable) < 3 {
		t.Fatalf("fixture too small: %d entries, %d stable values", len(want.logs), len(want.stable))
	}
	if err := migrate(dir); err != nil {
		t.Fatal(err)
	}
	checkMigrated(t, dir, want) // before raft runs: it raises the term at once
	n := openNode(t, dir)
	checkFixtureLive(t, n, fx)
	r := mustApply(t, n, state.Acquire{Name: "after/migration", LeaseID: uuid.New(), HolderID: fixtureUser(t, n, fx), TTL: time.Minute})
	if r.Lock.Token <= fx.Locks["fixture/s"].FencingToken {
		t.Fatalf("fencing token %d after the migration, %d was handed out before", r.Lock.Token, fx.Locks["fixture/s"].FencingToken)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	checkFixtureHistory(t, dir, fx, uint64(len(want.logs)))

	n = openNode(t, dir) // no raft.db any more: opens the WAL as it is
	defer n.Close()
	n.Read(context.Background(), true, func(v state.View, now int64) {
		if l, ok := v.GetLock("after/migration", now); !ok || l.Token != r.Lock.Token {
			t.Errorf("the write after the migration is gone: %+v %v", l, ok)
		}
	})
}

// fixtureUser is the fixture's static user, found by its token.
func fixtureUser(t *testing.T, n *Node, fx fixture) uuid.UUID {
	var id uuid.UUID
	n.Read(context.Background(), true, func(v state.View, now int64) {
		u, ok := v.UserByToken(state.HashToken(fx.Token))
		if !ok {
			t.Fatal("the fixture's user token is gone")
		}
		id = u.ID
	})
	return id
}

// checkFixtureLive checks what does not expire on the running node: the
// user's token, the scoped token, the webhook and the fencing counter.
func checkFixtureLive(t *testing.T, n *Node, fx fixture) {
	t.Helper()
	user := fixtureUser(t, n, fx)
	n.Read(context.Background(), true, func(v state.View, now int64) {
		if tok, ok := v.TokenByID(fx.ScopedToken.ID); !ok || tok.UserID != user || tok.Hash != state.HashToken(fx.ScopedToken.Token) {
			t.Errorf("scoped token %s: %+v %v", fx.ScopedToken.ID, tok, ok)
		}
		if w, ok := v.GetWebhook(fx.WebhookID); !ok || w.Secret != "fixture-secret" || w.UserID != user {
			t.Errorf("webhook %s: %+v %v", fx.WebhookID, w, ok)
		}
		if next := v.NextToken(); next <= fx.Locks["fixture/s"].FencingToken {
			t.Errorf("next fencing token %d, %d was handed out", next, fx.Locks["fixture/s"].FencingToken)
		}
	})
}

// checkFixtureHistory replays the migrated entries (those of raft.db,
// 1..last) and checks the locks and the session as they were when the
// old release stopped: by now they have expired on the running node.
func checkFixtureHistory(t *testing.T, dataDir string, fx fixture, last uint64) {
	t.Helper()
	s, err := openLogStore(filepath.Join(dataDir, walDir), quietLogger(), newRaftLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs []*raft.Log
	for i := uint64(1); i <= last; i++ {
		l := new(raft.Log)
		if err := s.GetLog(i, l); err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	st, now := replay(logs)
	v := st.View()
	for name, want := range fx.Locks {
		l, ok := v.GetLock(name, now)
		if !ok || l.LeaseID != want.LeaseID || l.Token != want.FencingToken || l.SessionID != want.SessionID {
			t.Errorf("%s after migration: %+v %v, want lease %s token %d", name, l, ok, want.LeaseID, want.FencingToken)
		}
	}
	if sess, nlocks, ok := v.GetSession(fx.SessionID, now); !ok || nlocks != 1 || sess.EndedAt != 0 {
		t.Errorf("session %s: %+v, %d locks, %v", fx.SessionID, sess, nlocks, ok)
	}
}
