package httpapi

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/octostore/octostore/internal/cluster"
)

// Cluster is what the API needs of the Raft node beyond the state.
type Cluster interface {
	IsReady() bool
	Readiness() cluster.Readiness
	LeaderHTTP() (string, bool)
	Status() cluster.Status
	Digest() (index uint64, digest string)
	Join(ctx context.Context, req cluster.JoinRequest) error
	Remove(ctx context.Context, id string) error
	WriteSnapshot(ctx context.Context, w io.Writer) error
}

// forwardedHeader marks a request a follower passed to the leader, so it
// is never passed on again: one hop, or 503.
const forwardedHeader = "X-OctoStore-Forwarded"

type targetKey struct{}

// newForwarder proxies to the leader URL stored in the request context.
// Responses stream through (FlushInterval -1) so waiting requests and
// event streams work through a follower.
func (a *API) newForwarder() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(targetKey{}).(*url.URL))
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(forwardedHeader, "1")
		},
		Transport:     &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxIdleConnsPerHost: 64},
		FlushInterval: -1,
		ErrorHandler:  a.forwardFailed,
		ErrorLog:      nil,
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

func (a *API) forward(w http.ResponseWriter, r *http.Request) {
	leader, ok := a.cluster.LeaderHTTP()
	target, err := url.Parse(leader)
	if !ok || err != nil || r.Header.Get(forwardedHeader) != "" {
		a.writeError(w, r, cluster.ErrNotLeader)
		return
	}
	// The leader answers with the same request ID, so both logs share it.
	r.Header.Set("X-Request-Id", w.Header().Get("X-Request-Id"))
	w.Header().Del("X-Request-Id")
	a.forwarder.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, target)))
}

// forwardFailed answers a request the leader did not answer. If it never
// reached the leader nothing happened; if it did, a write's outcome is
// unknown.
func (a *API) forwardFailed(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("X-Request-Id", r.Header.Get("X-Request-Id"))
	var op *net.OpError
	if r.Method == http.MethodGet || (errors.As(err, &op) && op.Op == "dial") {
		a.writeError(w, r, cluster.ErrNotLeader)
		return
	}
	a.writeError(w, r, cluster.ErrOutcomeUnknown)
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
	for _, m := range st.Members {
		resp.Nodes = append(resp.Nodes, clusterNode{ID: m.ID, RaftAddr: m.RaftAddr, HTTPAddr: m.HTTPAddr, Role: m.Role, Voter: m.Voter})
	}
	if d := r.URL.Query().Get("digest"); d == "true" {
		index, digest := a.cluster.Digest()
		resp.StateIndex, resp.StateDigest = &index, &digest
	} else if d != "" && d != "false" {
		a.writeError(w, r.Request, invalid("digest must be true or false"))
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleJoin takes a node in. It needs no bearer token: the leader
// authenticates the joiner by connecting to its Raft address and
// completing the cluster-key or mutual-TLS handshake there.
func (a *API) handleJoin(w http.ResponseWriter, r *request) {
	var body struct {
		ID       *string `json:"id"`
		RaftAddr *string `json:"raft_addr"`
		HTTPAddr *string `json:"http_addr"`
	}
	if err := decodeJSON(r.Request, &body, true); err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	if body.ID == nil || body.RaftAddr == nil || body.HTTPAddr == nil {
		a.writeError(w, r.Request, invalid("id, raft_addr and http_addr are required"))
		return
	}
	req := cluster.JoinRequest{ID: *body.ID, RaftAddr: *body.RaftAddr, HTTPAddr: *body.HTTPAddr}
	if err := a.cluster.Join(r.Context(), req); err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	a.handleClusterStatus(w, r)
}

func (a *API) handleRemoveNode(w http.ResponseWriter, r *request) {
	if !a.admins[r.user.ID] {
		a.writeError(w, r.Request, ErrForbidden)
		return
	}
	if err := a.cluster.Remove(r.Context(), r.nodeID); err != nil {
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
