package httpapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/octostore/octostore/internal/state"
)

// Owner namespaces are bound to GitHub accounts by the first use (under
// --tenancy isolated); administrators list the bindings and release one
// when a login changed hands.

type namespaceResp struct {
	Name    string    `json:"name"`
	Account string    `json:"account"`
	BoundAt time.Time `json:"bound_at"`
}

type namespaceList struct {
	Namespaces []namespaceResp `json:"namespaces"`
	NextAfter  *string         `json:"next_after"`
}

// handleListNamespaces pages through the bindings like GET /locks does
// through locks: in name order, after ?after, at most ?limit.
func (a *API) handleListNamespaces(w http.ResponseWriter, r *request) {
	q := r.URL.Query()
	after := q.Get("after")
	limit, err := listLimit(q.Get("limit"))
	if err = firstError(a.adminOnly(r), err, maxLen("after", after)); err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	resp := namespaceList{Namespaces: []namespaceResp{}}
	err = a.store.Read(r.Context(), false, func(s state.View, _ int64) {
		bs := s.Namespaces(after, limit+1) // one more says whether a next page exists
		for i, b := range bs {
			if i == limit {
				resp.NextAfter = &bs[i-1].Namespace
				break
			}
			resp.Namespaces = append(resp.Namespaces, namespaceResp{Name: b.Namespace, Account: b.Account, BoundAt: unixTime(b.BoundAt)})
		}
	})
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleReleaseNamespace frees a binding; the next account to use the
// namespace binds it. Namespaces are case-insensitive, as GitHub logins
// are: "Acme" releases "acme".
func (a *API) handleReleaseNamespace(w http.ResponseWriter, r *request) {
	if err := a.adminOnly(r); err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	if _, ok := a.apply(w, r, state.ReleaseNamespace{Namespace: state.NamespaceKey(r.namespace)}); !ok {
		return
	}
	a.log.Info("namespace released", "namespace", state.NamespaceKey(r.namespace), "by", r.user.Login, "user_id", r.user.ID)
	w.WriteHeader(http.StatusNoContent)
}

// adminOnly refuses whoever is not an administrator.
func (a *API) adminOnly(r *request) error {
	if !a.admins[r.user.ID] {
		return ErrForbidden
	}
	return nil
}

// parseNamespace reads {name} of /namespaces/{name}: one lock-name
// component, percent-escapes allowed.
func parseNamespace(req *request, raw string) {
	name, err := url.PathUnescape(raw)
	if err != nil || state.ValidLockComponent(name) != nil {
		req.paramErr = invalid("invalid namespace: 1 to %d letters, digits, '.', '_' or '-' (a lock name's first component)",
			state.MaxLockComponentLen)
	}
	req.namespace = name
}
