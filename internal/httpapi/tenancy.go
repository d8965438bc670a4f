package httpapi

import (
	"fmt"
	"net/http"

	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
)

// checkNamespace confines a lock route or the lock list to the caller's
// owner namespaces (isolated tenancy; see internal/tenancy). It runs at
// intake, after authentication and the token's scope, before the body is
// read and before the lock is: a refusal (403 forbidden_namespace or
// namespace_owned_by_other_account) is the same whether the name is held
// or not, and changes nothing. It leaves on req the namespace binding an
// acquire proposes first, and the spans a list may read.
func (a *API) checkNamespace(rt *route, req *request) error {
	lockRoute := rt.named
	if !a.tenancy.Isolated() || !lockRoute && !rt.lists {
		return nil
	}
	if lockRoute && state.ValidLockName(req.name) != nil {
		return nil // the handler answers 422, as in shared mode
	}
	var err error
	rerr := a.store.Read(req.Context(), true, func(v state.View, now int64) {
		owners := a.tenancy.Owners(v, req.user, now)
		if lockRoute {
			req.bind, err = owners.Check(req.name)
			return
		}
		req.spans, err = owners.Spans(req.URL.Query().Get("prefix"))
		req.confined = owners.Confined()
	})
	return firstError(rerr, err)
}

// bindNamespace binds the namespace of an acquire's name to the account
// through which the caller owns it, on its first write use: from then on
// that account owns it whatever its login becomes, and another account
// with the same login is refused. It is idempotent; an account that bound
// it in between makes the acquire 403. ok says whether to go on.
func (a *API) bindNamespace(w http.ResponseWriter, r *request) (ok bool) {
	if r.bind == (tenancy.Binding{}) {
		return true
	}
	cmd := state.BindNamespace{Namespace: r.bind.Namespace, Account: r.bind.Account}
	if _, err := state.Outcome(a.store.Apply(r.Context(), cmd)); err != nil {
		a.writeError(w, r.Request, fmt.Errorf("%w: %s", err, r.bind.Namespace))
		return false
	}
	return true
}

// listSpans lists what is held at now in spans (disjoint, in name order),
// after the name after: at most limit, and whether more follow. get reads
// one name, list a prefix (locks, or elections).
func listSpans[T any](spans []tenancy.Span, after string, limit int,
	get func(name string) (T, bool), list func(prefix, after string, limit int) []T) ([]T, bool) {
	var out []T
	for _, sp := range spans {
		if len(out) > limit {
			break
		}
		if sp.Exact != "" {
			if v, held := get(sp.Exact); held && sp.Exact > after {
				out = append(out, v)
			}
			continue
		}
		out = append(out, list(sp.Prefix, after, limit+1-len(out))...)
	}
	if len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

// clusterDetails says whether the caller may see the cluster's addresses
// and state digest: everyone in shared mode, administrators in isolated
// mode, where the callers are strangers to each other and to the operator.
func (a *API) clusterDetails(r *request) bool {
	return !a.tenancy.Isolated() || a.admins[r.user.ID]
}
