package state

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func everyCommand() []Command {
	id := uuid.MustParse("11111111-2222-4333-8444-555555555555")
	return []Command{
		Acquire{Name: "a/b", LeaseID: id, HolderID: alice, SessionID: id, TTL: time.Minute, Metadata: "m", MaxLocks: 10},
		Renew{Name: "a", LeaseID: id, HolderID: alice, TTL: time.Second},
		Release{Name: "a", LeaseID: id, HolderID: bob},
		CreateSession{ID: id, UserID: alice, TTL: 30 * time.Second, MaxSessions: 5},
		KeepAlive{ID: id, UserID: alice},
		DeleteSession{ID: id, UserID: alice},
		ExpireDue{Limit: 100},
		SyncStaticUsers{Users: []StaticUser{{ID: alice, Login: "alice", Hashes: []TokenHash{HashToken("x")}}}},
		BootstrapAdmin{ID: alice, Login: "admin", Hash: HashToken("y")},
		IssueToken{UserID: alice, Login: "octocat", Hash: HashToken("z")},
		RotateToken{Old: HashToken("y"), New: HashToken("z")},
		RevokeToken{Hash: HashToken("y"), UserID: bob},
		CreateWebhook{ID: id, UserID: alice, URL: "https://example.com/h", Secret: "s", Events: EventExpired, Pattern: "svc/**"},
		DeleteWebhook{ID: id, UserID: alice},
		AckWebhooks{Acks: []WebhookAck{{ID: id, Seq: 7}}},
		WebhookFailing{ID: id},
		DeactivateWebhook{ID: id, Reason: "r"},
		SetNode{ID: "n1", HTTPAddr: "10.0.0.1:3000"},
		RemoveNode{ID: "n1"},
		Acquire{Name: "q", LeaseID: id, HolderID: bob, TTL: time.Minute, Wait: 30 * time.Second},
		CancelWait{Name: "q", LeaseID: id, HolderID: bob},
		CancelAllWaiters{},
		ReissueAdmin{ID: alice, Hash: HashToken("w")}, // commands added later go last: the golden lines above stay put
		RetireUsers{IDs: []uuid.UUID{alice, bob}},
		CreateToken{Hash: HashToken("v"), UserID: alice, Source: SourceCreated, Name: "ci", Access: AccessRead,
			Prefixes: []string{"acme/deploy/", "b"}, TTL: time.Hour},
		TouchTokens{Hashes: []TokenHash{HashToken("v"), HashToken("w")}},
		RecordGitHubAccount{UserID: alice, Login: "octocat", GitHubID: 583231, Orgs: []Org{{ID: 9919, Login: "github"}}, Grant: "gho_x"},
		BindNamespace{Namespace: "octocat", Account: AccountGitHubUser(583231)},
		ReleaseNamespace{Namespace: "octocat"},
		Acquire{Name: "sem", LeaseID: id, HolderID: alice, TTL: time.Minute, Wait: time.Second, Limit: 3},
		Acquire{Name: "rw", LeaseID: id, HolderID: bob, SessionID: id, TTL: time.Minute, Metadata: "r", Mode: Shared},
		Campaign{Name: "svc/leader", LeaseID: id, HolderID: alice, SessionID: id, TTL: time.Minute, Value: "10.0.0.1:80", Wait: time.Second, MaxLocks: 3},
		Proclaim{Name: "svc/leader", LeaseID: id, HolderID: alice, Value: "10.0.0.2:80"},
		Resign{Name: "svc/leader", LeaseID: id, HolderID: alice},
	}
}

func TestCodec_RoundTrip(t *testing.T) {
	b := Batch{Now: t0, Skew: time.Second, Commands: everyCommand()}
	got, err := DecodeBatch(EncodeBatch(b))
	if err != nil {
		t.Fatal(err)
	}
	b.Version = batchVersion // what it was read in
	if !reflect.DeepEqual(got, b) {
		t.Fatalf("got %+v\nwant %+v", got, b)
	}
}

func TestCodec_Refuses(t *testing.T) {
	valid := EncodeBatch(Batch{Now: t0, Skew: time.Second, Commands: everyCommand()})
	for name, data := range map[string][]byte{
		"Empty":         nil,
		"BadMagic":      append([]byte{0}, valid[1:]...),
		"Truncated":     valid[:len(valid)-3],
		"TrailingBytes": append(bytes.Clone(valid), 0),
		"UnknownKind":   {batchMagic, batchVersion, 2, 0, 1, 99},
	} {
		if _, err := DecodeBatch(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	invalid := map[string]Batch{
		"BadName":         {Now: t0, Commands: []Command{Acquire{Name: "a//b", LeaseID: alice, HolderID: alice, TTL: time.Second}}},
		"TTLTooLong":      {Now: t0, Commands: []Command{Acquire{Name: "a", LeaseID: alice, HolderID: alice, TTL: 2 * time.Hour}}},
		"NoLease":         {Now: t0, Commands: []Command{Release{Name: "a", HolderID: alice}}},
		"SessionTTL":      {Now: t0, Commands: []Command{CreateSession{ID: alice, UserID: alice, TTL: time.Second}}},
		"ZeroLimit":       {Now: t0, Commands: []Command{ExpireDue{}}},
		"NegativeSkew":    {Now: t0, Skew: -1},
		"ZeroNow":         {},
		"EmptyLogin":      {Now: t0, Commands: []Command{BootstrapAdmin{ID: alice}}},
		"WebhookHTTP":     {Now: t0, Commands: []Command{CreateWebhook{ID: alice, UserID: alice, URL: "http://x", Events: AllEvents}}},
		"WebhookNoEvent":  {Now: t0, Commands: []Command{CreateWebhook{ID: alice, UserID: alice, URL: "https://x"}}},
		"WebhookPattern":  {Now: t0, Commands: []Command{CreateWebhook{ID: alice, UserID: alice, URL: "https://x", Events: AllEvents, Pattern: "a//b"}}},
		"MetadataTooBig":  {Now: t0, Commands: []Command{Acquire{Name: "a", LeaseID: alice, HolderID: alice, TTL: time.Second, Metadata: string(make([]byte, 1025))}}},
		"NodeAddrTooLong": {Now: t0, Commands: []Command{SetNode{ID: "n1", HTTPAddr: strings.Repeat("x", MaxNodeAddrLen+1)}}},
	}
	for name, b := range invalid {
		if _, err := DecodeBatch(EncodeBatch(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		// Validate runs before a command joins a batch: whatever the
		// decoder refuses must be refused there, or it would make the
		// whole entry, and every command batched with it, undecodable.
		for _, c := range b.Commands {
			if Validate(c) == nil {
				t.Errorf("%s: Validate accepted %T, which no replica can decode", name, c)
			}
		}
	}
}

func TestSnapshot_RoundTrip(t *testing.T) {
	s := newState(t)
	sess := newSession(t, s, alice, time.Minute)
	c := acquire("with/session", alice, time.Minute)
	c.SessionID = sess.ID
	c.Metadata = "meta"
	mustApply(t, s, t0, c)
	mustApply(t, s, t0, acquire("plain", bob, time.Minute))
	ended := newSession(t, s, bob, time.Minute)
	mustApply(t, s, t0, DeleteSession{ID: ended.ID, UserID: bob})
	mustApply(t, s, t0, RotateToken{Old: HashToken("A"), New: HashToken("A2")})
	mustApply(t, s, t0, IssueToken{UserID: uuid.New(), Login: "octocat", Hash: HashToken("gh")})
	w := mustApply(t, s, t0, CreateWebhook{ID: uuid.New(), UserID: alice, URL: "https://example.com/h", Secret: "s", Events: AllEvents, Pattern: "**"}).Webhook
	mustApply(t, s, t0, AckWebhooks{Acks: []WebhookAck{{ID: w.ID, Seq: 1}}})
	mustApply(t, s, t0, SetNode{ID: "n2", HTTPAddr: "127.0.0.1:3002"})
	mustApply(t, s, t0, SetNode{ID: "n1", HTTPAddr: "127.0.0.1:3001"})
	want := snapshotBytes(t, s)

	r, err := Restore(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotBytes(t, r); !bytes.Equal(got, want) {
		t.Fatal("restored state snapshots differently")
	}
	if _, n, _ := r.GetSession(sess.ID, t0); n != 1 {
		t.Fatalf("session lock index not rebuilt: %d", n)
	}
	if next, _ := r.NextDeadline(); next != at(time.Minute+skew) {
		t.Fatalf("deadline index not rebuilt: %v", time.Duration(next-t0))
	}
	if r.NextToken() != s.NextToken() || r.LastNow() != s.LastNow() {
		t.Fatal("counters differ")
	}
}

func TestSnapshot_IsPointInTime(t *testing.T) {
	s := newState(t)
	mustApply(t, s, t0, acquire("a", alice, time.Minute))
	sn := s.Snapshot()
	before := snapshotBytes(t, s)
	mustApply(t, s, t0, acquire("b", alice, time.Minute))
	mustApply(t, s, t0, CreateSession{ID: uuid.New(), UserID: alice, TTL: time.Minute})
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), before) {
		t.Fatal("snapshot saw a later write")
	}
}

func TestSnapshot_RefusesCorruption(t *testing.T) {
	s := newState(t)
	mustApply(t, s, t0, acquire("a", alice, time.Minute))
	good := snapshotBytes(t, s)
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x41
		if _, err := Restore(bytes.NewReader(bad)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped byte %d: err = %v", i, err)
		}
	}
	for n := 0; n < len(good); n++ {
		if _, err := Restore(bytes.NewReader(good[:n])); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}
