package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/server"
)

// These tests are written from the attacker's side: someone who reaches a
// node's HTTP or Raft port but holds no token, no cluster key and no node
// certificate.

// trap is a listener that counts the connections anyone makes to it.
type trap struct {
	addr  string
	conns atomic.Int64
}

func newTrap(t *testing.T) *trap {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tr := &trap{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.conns.Add(1)
			c.Close()
		}
	}()
	return tr
}

// The old join hijack: an unauthenticated join naming the real n1 with the
// attacker's http_addr. There is no such route any more, nothing is
// dialled, and a write through a follower goes to the real leader while
// the impostor receives nothing.
func TestAttack_JoinHijack(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.Leader()
	var stolen atomic.Int64
	impostor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		io.WriteString(w, `{"status":"acquired","fencing_token":1}`)
	}))
	defer impostor.Close()
	scanned := newTrap(t)
	for _, n := range c.nodes {
		for _, body := range []map[string]string{
			{"id": leader.id, "raft_addr": leader.raftAddr, "http_addr": impostor.URL},
			{"id": "n9", "raft_addr": scanned.addr, "http_addr": "http://" + scanned.addr},
		} {
			raw, _ := json.Marshal(body)
			if r := n.c.Raw("POST", "/cluster/join", "", raw); r.Status != http.StatusNotFound {
				t.Fatalf("unauthenticated join to %s: %d %s", n.id, r.Status, r.Body)
			}
		}
	}
	f := c.Followers()[0]
	status, l := acquire(t, f.c, "hijack/target", alice, 60)
	if status != http.StatusOK || l.Status != "acquired" {
		t.Fatalf("acquire through a follower: %d", status)
	}
	if got := getLock(t, leader.c, "hijack/target", ""); got.LeaseID != l.LeaseID {
		t.Fatalf("the leader does not hold the follower's grant: %+v", got)
	}
	if n := stolen.Load(); n != 0 {
		t.Fatalf("the impostor received %d forwarded requests", n)
	}
	if n := scanned.conns.Load(); n != 0 {
		t.Fatalf("a join request made a node dial the named address %d times", n)
	}
	for _, m := range leader.srv.Node().Status().Members {
		if m.HTTPAddr == impostor.URL {
			t.Fatalf("the impostor's address was recorded: %+v", m)
		}
	}
}

// Nothing a client can ask without a token names a node or an address.
func TestAttack_TopologyIsNotPublic(t *testing.T) {
	c := newCluster(t, 2)
	for _, n := range c.nodes {
		for _, path := range []string{"/ready", "/health", "/openapi.yaml"} {
			r := n.c.Get(path, "", nil)
			for _, m := range c.nodes {
				if bytes.Contains(r.Body, []byte(m.raftAddr)) || bytes.Contains(r.Body, []byte(`"`+m.id+`"`)) {
					t.Fatalf("unauthenticated %s on %s names node %s: %s", path, n.id, m.id, r.Body)
				}
			}
		}
		if r := n.c.Get("/cluster", "", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("unauthenticated /cluster: %d", r.Status)
		}
	}
}

// A complete node with another cluster's key asks to join through the
// Raft port, again and again, and is never let in.
func TestAttack_StrangerNodeCannotJoin(t *testing.T) {
	c := newCluster(t, 1)
	logs := &apitest.LogBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stranger, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), NodeID: "stranger", Skew: apitest.TestSkew,
		Tokens: "eve:" + apitest.BobToken, JoinAddrs: []string{c.nodes[0].raftAddr},
		Cluster: clusterConfigWithKey("127.0.0.1:0", "another-cluster-key-0123456789"),
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Shutdown(context.Background())
	poll.Until(t, 15*time.Second, "the stranger's join to fail twice", func() bool {
		return strings.Count(logs.String(), "join failed") >= 2
	})
	if got := len(c.nodes[0].srv.Node().Status().Members); got != 1 {
		t.Fatalf("%d members after a stranger's joins", got)
	}
	if !strings.Contains(logs.String(), "certificate") {
		t.Fatalf("the stranger's failures do not say why:\n%s", logs)
	}
}

// A client's token and request travel from a follower to the leader only
// inside TLS: a recorder on the leader's Raft port sees none of it.
func TestAttack_ForwardedRequestsAreEncrypted(t *testing.T) {
	rec := newRecorder(t)
	c := &testCluster{t: t}
	n1 := &testNode{id: "n1", dir: t.TempDir(), listen: "127.0.0.1:0", raftAddr: rec.targetAddr, raftAdvertise: rec.addr}
	c.start(n1, nil)
	n2 := &testNode{id: "n2", dir: t.TempDir(), listen: "127.0.0.1:0", raftAddr: "127.0.0.2:0"}
	c.nodes = []*testNode{n1}
	c.start(n2, []string{rec.addr})
	c.nodes = append(c.nodes, n2)
	c.waitMembers(2)
	if c.Leader() != n1 {
		t.Fatalf("the founder does not lead")
	}
	const secret = "metadata-only-the-leader-may-read"
	r := n2.c.Do("POST", "/locks/wire/acquire", alice, map[string]any{"ttl_seconds": 30, "metadata": secret})
	if r.Status != http.StatusOK {
		t.Fatalf("acquire through the follower: %d %s", r.Status, r.Body)
	}
	seen := rec.bytes()
	if len(seen) == 0 {
		t.Fatal("nothing went through the recorder: the test proves nothing")
	}
	for _, plain := range []string{alice, secret, "Authorization", "acquire", "HTTP/1.1"} {
		if bytes.Contains(seen, []byte(plain)) {
			t.Fatalf("%q crossed the network in cleartext", plain)
		}
	}
}

func clusterConfigWithKey(raftAddr, key string) cluster.Config {
	return cluster.Config{RaftAddr: raftAddr, ClusterKey: []byte(key)}
}

// recorder is a TCP proxy in front of a Raft port that keeps a copy of
// every byte in either direction.
type recorder struct {
	addr, targetAddr string
	mu               sync.Mutex
	buf              bytes.Buffer
}

func newRecorder(t *testing.T) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	target, err := net.Listen("tcp", "127.0.0.1:0") // reserve a port for the node
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{addr: ln.Addr().String(), targetAddr: target.Addr().String()}
	target.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go rec.splice(c)
		}
	}()
	return rec
}

func (r *recorder) splice(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", r.targetAddr)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(io.MultiWriter(c, r), s)
	io.Copy(io.MultiWriter(s, r), c)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

// The Raft port of a running node, probed by an outsider: raw bytes, TLS
// without a certificate, and a complete Raft transport holding another
// cluster's key and claiming to be the leader, sending an AppendEntries of
// a much later term with a forged entry. None reaches raft: the follower
// never adopts the forged term and the cluster stays as it was.
func TestAttack_RaftPortRefusesOutsiders(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.Leader()
	f := c.Followers()[0]
	forgedTerm := f.srv.Node().Status().Term + 100

	raw, err := net.Dial("tcp", f.raftAddr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("\x00\x85\xa4Term\xcd\x03\xe8 forged"))
	raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, raw) // until the node closes it
	raw.Close()

	conn, err := tls.Dial("tcp", f.raftAddr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"octostore-raft/1"}})
	if err == nil {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("TLS without a node certificate: %v, want a certificate alert", err)
	}

	trans, _, err := cluster.NewTransport(cluster.TransportConfig{BindAddr: "127.0.0.1:0", NodeID: leader.id,
		ClusterKey: []byte("not-this-clusters-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	defer trans.(raft.WithClose).Close()
	req := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ID: []byte(leader.id), Addr: []byte(leader.raftAddr)},
		Term: forgedTerm, Entries: []*raft.Log{{Index: 1 << 40, Term: forgedTerm, Type: raft.LogCommand, Data: []byte("forged")}}}
	var resp raft.AppendEntriesResponse
	if err := trans.AppendEntries(raft.ServerID(f.id), raft.ServerAddress(f.raftAddr), req, &resp); err == nil {
		t.Fatalf("an outsider's AppendEntries was answered: %+v", resp)
	}
	if st := f.srv.Node().Status(); st.Term >= forgedTerm || len(st.Members) != 3 {
		t.Fatalf("after the outsider: term %d (forged %d), %d members", st.Term, forgedTerm, len(st.Members))
	}
	if status, _ := acquire(t, f.c, "after/outsider", alice, 30); status != http.StatusOK {
		t.Fatalf("the cluster after the outsider: acquire %d", status)
	}
}

// A member cannot push another out by claiming its address: a node that
// joins giving n2's Raft address is refused, and n2 stays a member.
func TestAttack_JoinCannotTakeAnotherMembersAddress(t *testing.T) {
	c := newCluster(t, 2)
	n2 := c.nodes[1]
	logs := &apitest.LogBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cc := clusterConfigWithKey("127.0.0.3:0", clusterKey)
	cc.RaftAdvertise = n2.raftAddr
	claimant, err := server.Start(ctx, server.Config{
		Listen: "127.0.0.1:0", DataDir: t.TempDir(), NodeID: "n3", Skew: apitest.TestSkew,
		Tokens: "alice:" + apitest.AliceToken, JoinAddrs: []string{c.nodes[0].raftAddr},
		Cluster: cc, Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer claimant.Shutdown(context.Background())
	poll.Until(t, 15*time.Second, "the claimant's join to be refused", func() bool {
		return strings.Contains(logs.String(), "address held by another member")
	})
	var ids []string
	for _, m := range c.Leader().srv.Node().Status().Members {
		ids = append(ids, m.ID+"@"+m.RaftAddr)
	}
	if len(ids) != 2 || !strings.Contains(strings.Join(ids, " "), "n2@"+n2.raftAddr) {
		t.Fatalf("members after the claim: %v", ids)
	}
}
