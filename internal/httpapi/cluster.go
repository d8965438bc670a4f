package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/octostore/octostore/internal/cluster"
)

// Cluster is what the API needs of the Raft node beyond the state.
type Cluster interface {
	IsReady() bool
	Readiness() cluster.Readiness
	Leader() (id string, ok bool)
	DialForward(ctx context.Context, id string) (net.Conn, error)
	Status() cluster.Status
	Digest() (index uint64, digest string)
	Remove(ctx context.Context, id, by string) error
	WriteSnapshot(ctx context.Context, w io.Writer) error
}

// clientAddrHeader carries, from a follower to the leader over the node
// channel, the address the client connected from. It is read only on
// requests that arrived on the node channel: from anyone else it would be
// a claim, never trusted.
const clientAddrHeader = "X-Octostore-Client-Addr"

type (
	targetKey  struct{} // the leader's node ID a request is forwarded to
	viaNodeKey struct{} // set on requests that came on the node channel
)

// newForwarder proxies to the leader named in the request context, over
// the node channel. Responses stream through (FlushInterval -1) so
// waiting requests and event streams work through a follower.
func (a *API) newForwarder() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: "leader"})
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(clientAddrHeader, pr.In.RemoteAddr)
		},
		Transport:     &forwardTransport{dial: a.cluster.DialForward, byNode: map[string]*http.Transport{}},
		FlushInterval: -1,
		ErrorHandler:  a.forwardFailed,
	}
}

// shouldForward: a node that is not the ready leader sends everything to
// the leader, except what any node may answer from its own state.
func (a *API) shouldForward(rt *route, r *http.Request) bool {
	if a.cluster == nil || rt.local || a.cluster.IsReady() {
		return false
	}
	stale, err := staleParam(r)
	return !(r.Method == http.MethodGet && stale && err == nil)
}

// forward passes r to the leader. A request another node forwarded here
// is not passed on (one hop, or 503): this node was its leader a moment
// ago, and its own state may be behind the new leader's.
func (a *API) forward(w http.ResponseWriter, r *http.Request) {
	leader, ok := a.cluster.Leader()
	if !ok || r.Context().Value(viaNodeKey{}) != nil {
		a.writeError(w, r, cluster.ErrNotLeader)
		return
	}
	// The leader answers with the same request ID, so both logs share it.
	r.Header.Set("X-Request-Id", w.Header().Get("X-Request-Id"))
	w.Header().Del("X-Request-Id")
	a.forwarder.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, leader)))
}

// NodeHandler serves the requests other nodes forward on the node
// channel: they are answered here, never forwarded again, and their
// client address is the one the forwarding node saw.
func (a *API) NodeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if addr := r.Header.Get(clientAddrHeader); addr != "" {
			r.RemoteAddr = addr
		}
		r.Header.Del(clientAddrHeader)
		a.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), viaNodeKey{}, true)))
	})
}

// forwardFailed answers a request the leader did not answer. If it never
// reached the leader nothing happened; if it did, a write's outcome is
// unknown.
func (a *API) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
	if r.Method == http.MethodGet || errors.Is(err, errNotSent) {
		a.writeError(w, r, cluster.ErrNotLeader)
		return
	}
	a.writeError(w, r, cluster.ErrOutcomeUnknown)
}

// errNotSent marks a forward that failed before a byte reached the
// leader: connecting or the node handshake failed.
var errNotSent = errors.New("could not reach the leader")

// forwardTransport keeps one connection pool per leader, dialled by node
// ID over the node channel; a new leader's pool replaces the old ones.
type forwardTransport struct {
	dial   func(ctx context.Context, id string) (net.Conn, error)
	mu     sync.Mutex
	byNode map[string]*http.Transport
}

func (f *forwardTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return f.transport(r.Context().Value(targetKey{}).(string)).RoundTrip(r)
}

func (f *forwardTransport) transport(id string) *http.Transport {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.byNode[id]; ok {
		return t
	}
	for old, t := range f.byNode {
		t.CloseIdleConnections()
		delete(f.byNode, old)
	}
	t := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			conn, err := f.dial(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errNotSent, err)
			}
			return conn, nil
		},
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	f.byNode[id] = t
	return t
}

type clusterNode struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	Role     string `json:"role"`
	Voter    bool   `json:"voter"`
}

type clusterStatus struct {
	Leader       string        `json:"leader"`
	Term         uint64        `json:"term"`
	CommitIndex  uint64        `json:"commit_index"`
	AppliedIndex uint64        `json:"applied_index"`
	Nodes        []clusterNode `json:"nodes"`
	Self         string        `json:"self"`
	StateIndex   *uint64       `json:"state_index,omitempty"`
	StateDigest  *string       `json:"state_digest,omitempty"`
}

// handleClusterStatus is this node's own view; any node answers.
// ?digest=true adds a hash of the local state and the index it reflects,
// to check that replicas converge.
func (a *API) handleClusterStatus(w http.ResponseWriter, r *request) {
	st := a.cluster.Status()
	resp := clusterStatus{Leader: st.Leader, Term: st.Term, CommitIndex: st.Commit, AppliedIndex: st.Applied,
		Nodes: []clusterNode{}, Self: st.Self}
	details := a.clusterDetails(r)
	for _, m := range st.Members {
		n := clusterNode{ID: m.ID, RaftAddr: m.RaftAddr, HTTPAddr: m.HTTPAddr, Role: m.Role, Voter: m.Voter}
		if !details {
			n.RaftAddr, n.HTTPAddr = "", "" // where the nodes are is the operator's business
		}
		resp.Nodes = append(resp.Nodes, n)
	}
	if d := r.URL.Query().Get("digest"); d == "true" && !details {
		a.writeError(w, r.Request, ErrForbidden) // a digest of everyone's state
		return
	} else if d == "true" {
		index, digest := a.cluster.Digest()
		resp.StateIndex, resp.StateDigest = &index, &digest
	} else if d != "" && d != "false" {
		a.writeError(w, r.Request, invalid("digest must be true or false"))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *API) handleRemoveNode(w http.ResponseWriter, r *request) {
	if !a.admins[r.user.ID] {
		a.writeError(w, r.Request, ErrForbidden)
		return
	}
	by := fmt.Sprintf("user %s (%s) from %s", r.user.Login, r.user.ID, r.RemoteAddr)
	if err := a.cluster.Remove(r.Context(), r.nodeID, by); err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleSnapshot streams a consistent backup of the whole state (token
// hashes and webhook secrets included): administrators only.
func (a *API) handleSnapshot(w http.ResponseWriter, r *request) {
	if !a.admins[r.user.ID] {
		a.writeError(w, r.Request, ErrForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="octostore-`+strconv.FormatInt(time.Now().Unix(), 10)+`.snap"`)
	if err := a.cluster.WriteSnapshot(r.Context(), w); err != nil {
		a.log.Warn("snapshot", "err", err)
		if w.(*statusRecorder).wrote {
			panic(http.ErrAbortHandler) // a partial backup must not look complete
		}
		a.writeError(w, r.Request, err)
	}
}
