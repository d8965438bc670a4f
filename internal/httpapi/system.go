package httpapi

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/state"
)

// handleHealth is liveness only: the process serves HTTP. Readiness lives
// on its own route.
func (a *API) handleHealth(w http.ResponseWriter, r *request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("OK"))
}

func (a *API) handleSpec(w http.ResponseWriter, r *request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(a.spec)
}

// handleUI serves the dashboard (internal/ui), which sets its own headers.
func (a *API) handleUI(w http.ResponseWriter, r *request) { a.ui.ServeHTTP(w, r.Request) }

// readyStatus is the body of a 200 from /ready. It is public (load
// balancers ask it), so it names no node: IDs and addresses are for
// authenticated callers of /cluster.
type readyStatus struct {
	Status       string `json:"status"`
	Role         string `json:"role"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
}

// ErrNotReady is a 503 from /ready; its details say why.
var ErrNotReady = errors.New("not ready")

// handleReady is readiness: 200 only when this node can serve
// linearizable requests now. It reads local Raft state only.
func (a *API) handleReady(w http.ResponseWriter, r *request) {
	rd := cluster.Readiness{Ready: true, Role: "leader"} // no cluster: a bare API is its own leader
	if a.cluster != nil {
		rd = a.cluster.Readiness()
	}
	if !rd.Ready {
		a.writeError(w, r.Request, fmt.Errorf("%w: %s", ErrNotReady, rd.Reason))
		return
	}
	writeJSON(w, http.StatusOK, readyStatus{Status: "ready", Role: rd.Role,
		CommitIndex: rd.Commit, AppliedIndex: rd.Applied})
}

// handleMetrics serves the Prometheus exposition; with a metrics token
// configured, only to callers presenting it (compared as digests, in
// constant time). In isolated tenancy the figures describe every tenant's
// activity, so they are for the metrics token or an administrator's
// token only.
func (a *API) handleMetrics(w http.ResponseWriter, r *request) {
	if a.metrics == nil {
		a.writeError(w, r.Request, ErrRouteNotFound)
		return
	}
	token, _ := auth.BearerToken(r.Header.Get("Authorization"))
	switch {
	case a.metricsToken != nil && token != "" && a.isMetricsToken(token):
	case a.tenancy.Isolated():
		if err := a.metricsAdmin(r); err != nil {
			a.writeError(w, r.Request, err)
			return
		}
	case a.metricsToken != nil:
		a.writeError(w, r.Request, ErrUnauthorized)
		return
	}
	a.metrics.ServeHTTP(w, r.Request)
}

func (a *API) isMetricsToken(token string) bool {
	h := state.HashToken(token)
	return subtle.ConstantTimeCompare(h[:], a.metricsToken[:]) == 1
}

// metricsAdmin lets an administrator's token read the metrics. A failed
// authentication counts against the address like any other, so /metrics
// is no faster way to guess tokens.
func (a *API) metricsAdmin(r *request) error {
	u, _, err := a.authenticate(r.Request)
	switch {
	case err != nil:
		return a.authFailed(r, err)
	case !a.admins[u.ID]:
		return ErrForbidden
	}
	return nil
}
