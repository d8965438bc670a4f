package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// route is one path shape with its handlers by method.
type route struct {
	name    string // the path template, for logs
	methods map[string]handler
	public  bool // served without authentication
	local   bool // any node answers from its own state; never forwarded
	// probe routes (health, readiness, metrics) are cheap and must answer
	// under overload: they bypass admission control.
	probe bool
	// body: its POST handler reads a JSON body, which is read before the
	// request is admitted.
	body bool
	// scope is what a scoped token may do here (none unless set).
	scope scopeRule
	// named: a lock's or an election's route, {name} in its path (its
	// status and actions); lists: GET /locks or GET /elections, which a
	// scoped token and isolated tenancy confine by prefix.
	named, lists bool
}

// routes are built once; resolving a request allocates nothing but the
// request itself.
type routes struct {
	health, ready, metrics, spec, list, status, create, session, keepalive *route
	actions                                                                map[string]*route // acquire, renew, release
	election, elections                                                    *route
	electionActions                                                        map[string]*route // campaign, proclaim, resign
	github, callback, rotate, tokens, token                                *route
	webhooks, webhook                                                      *route
	namespaces, namespace                                                  *route
	cluster, node, snapshot                                                *route
	events                                                                 *route
	ui                                                                     *route
}

func (a *API) buildRoutes() {
	a.routes = routes{
		health:    &route{name: "/health", methods: map[string]handler{"GET": a.handleHealth, "HEAD": a.handleHealth}, public: true, local: true, probe: true},
		ready:     &route{name: "/ready", methods: map[string]handler{"GET": a.handleReady}, public: true, local: true, probe: true},
		metrics:   &route{name: "/metrics", methods: map[string]handler{"GET": a.handleMetrics}, public: true, local: true, probe: true},
		spec:      &route{name: "/openapi.yaml", methods: map[string]handler{"GET": a.handleSpec}, public: true, local: true},
		cluster:   &route{name: "/cluster", methods: map[string]handler{"GET": a.handleClusterStatus}, local: true},
		events:    &route{name: "/events", methods: map[string]handler{"GET": a.handleEvents}, local: true, scope: scopeRead},
		ui:        &route{name: "/ui/", methods: map[string]handler{"GET": a.handleUI, "HEAD": a.handleUI}, public: true, local: true},
		node:      &route{name: "/cluster/nodes/{id}", methods: map[string]handler{"DELETE": a.handleRemoveNode}},
		snapshot:  &route{name: "/cluster/snapshot", methods: map[string]handler{"GET": a.handleSnapshot}},
		list:      &route{name: "/locks", methods: map[string]handler{"GET": a.handleListLocks}, scope: scopeRead, lists: true},
		status:    &route{name: "/locks/{name}", methods: map[string]handler{"GET": a.handleGetLock}, scope: scopeRead, named: true},
		create:    &route{name: "/sessions", methods: map[string]handler{"POST": a.handleCreateSession}, body: true, scope: scopeWrite},
		session:   &route{name: "/sessions/{id}", methods: map[string]handler{"GET": a.handleGetSession, "DELETE": a.handleDeleteSession}, scope: scopeRead},
		keepalive: &route{name: "/sessions/{id}/keepalive", methods: map[string]handler{"POST": a.handleKeepAlive}, body: true, scope: scopeWrite},
		github:    &route{name: "/auth/github", methods: map[string]handler{"GET": a.handleGitHubLogin}, public: true},
		callback:  &route{name: "/auth/github/callback", methods: map[string]handler{"GET": a.handleGitHubCallback}, public: true},
		rotate:    &route{name: "/auth/token/rotate", methods: map[string]handler{"POST": a.handleRotateToken}},
		tokens:    &route{name: "/auth/tokens", methods: map[string]handler{"GET": a.handleListTokens, "POST": a.handleCreateToken}, body: true},
		token:     &route{name: "/auth/tokens/{id}", methods: map[string]handler{"DELETE": a.handleRevokeToken}},
		webhooks:  &route{name: "/webhooks", methods: map[string]handler{"POST": a.handleCreateWebhook, "GET": a.handleListWebhooks}, body: true},
		webhook:   &route{name: "/webhooks/{id}", methods: map[string]handler{"DELETE": a.handleDeleteWebhook}},
		// Administrators only; closed to scoped tokens (scope none).
		namespaces: &route{name: "/namespaces", methods: map[string]handler{"GET": a.handleListNamespaces}},
		namespace:  &route{name: "/namespaces/{name}", methods: map[string]handler{"DELETE": a.handleReleaseNamespace}},
		actions: map[string]*route{
			"acquire": {name: "/locks/{name}/acquire", methods: map[string]handler{"POST": a.handleAcquireLock}, body: true, scope: scopeWrite, named: true},
			"renew":   {name: "/locks/{name}/renew", methods: map[string]handler{"POST": a.handleRenewLock}, body: true, scope: scopeWrite, named: true},
			"release": {name: "/locks/{name}/release", methods: map[string]handler{"POST": a.handleReleaseLock}, body: true, scope: scopeWrite, named: true},
		},
		election:  &route{name: "/elections/{name}", methods: map[string]handler{"GET": a.handleGetElection}, scope: scopeRead, named: true},
		elections: &route{name: "/elections", methods: map[string]handler{"GET": a.handleListElections}, scope: scopeRead, lists: true},
		electionActions: map[string]*route{
			"campaign": {name: "/elections/{name}/campaign", methods: map[string]handler{"POST": a.handleCampaign}, body: true, scope: scopeWrite, named: true},
			"proclaim": {name: "/elections/{name}/proclaim", methods: map[string]handler{"POST": a.handleProclaim}, body: true, scope: scopeWrite, named: true},
			"resign":   {name: "/elections/{name}/resign", methods: map[string]handler{"POST": a.handleResign}, body: true, scope: scopeWrite, named: true},
		},
	}
}

// resolve finds the route and handler for r. It parses lock names and
// session IDs from the escaped path, so "%2F" inside a lock name is a
// slash in the name, not a separator. A path that matches nothing is 404;
// a method the path does not support is 405. A malformed name or ID is
// left in paramErr, to be answered after authentication.
func (a *API) resolve(r *http.Request) (*route, handler, *request, error) {
	path := r.URL.EscapedPath()
	req := &request{Request: r}
	if err := a.trailingSlash(r, path); err != nil {
		return nil, nil, nil, err
	}
	rt, err := a.match(req, path)
	if err != nil {
		return rt, nil, nil, err
	}
	if _, qerr := url.ParseQuery(r.URL.RawQuery); qerr != nil && req.paramErr == nil {
		// net/http leaves the query to handlers, and Query() would
		// silently drop the malformed pair (?limit=%zz as no limit).
		req.paramErr = invalid("invalid query string: %v", qerr)
	}
	h, ok := rt.methods[r.Method]
	if !ok {
		return rt, nil, nil, ErrMethodNotAllowed
	}
	return rt, h, req, nil
}

// routeHint is a 404 for a path that is a route plus a trailing slash.
type routeHint struct{ path string }

func (e routeHint) Error() string { return "No such route; did you mean " + e.path + "?" }
func (e routeHint) Unwrap() error { return ErrRouteNotFound }

// trailingSlash answers a known route's path with trailing slashes added
// (POST /locks/x/acquire/, GET /health/) as a 404 naming the route, before
// routing could take it for something else: a 405 whose Allow lists
// another route's methods, or, for /locks/a/b/, a lock name. The
// dashboard under /ui/ routes its own paths, trailing slashes included.
func (a *API) trailingSlash(r *http.Request, path string) error {
	trimmed := strings.TrimRight(path, "/")
	if trimmed == path || trimmed == "" || a.ui != nil && (trimmed == "/ui" || strings.HasPrefix(trimmed, "/ui/")) {
		return nil
	}
	if rt, err := a.match(&request{Request: r}, trimmed); rt == nil || errors.Is(err, ErrRouteNotFound) {
		return nil // not a route with or without the slash: an ordinary 404
	}
	return routeHint{trimmed}
}

// match finds the route of path, filling req's path parameters. A path
// that matches nothing is ErrRouteNotFound; a method the route does not
// support may be ErrMethodNotAllowed, decided here where the method picks
// the route (lock actions). A malformed parameter is left in req.paramErr.
func (a *API) match(req *request, path string) (*route, error) {
	var rt *route
	var err error
	switch {
	case path == "/health":
		rt = a.routes.health
	case path == "/ready":
		rt = a.routes.ready
	case path == "/metrics":
		rt = a.routes.metrics
	case path == "/openapi.yaml":
		rt = a.routes.spec
	case a.ui != nil && (path == "/ui" || strings.HasPrefix(path, "/ui/")):
		rt = a.routes.ui
	case path == "/locks":
		rt = a.routes.list
	case strings.HasPrefix(path, "/locks/"):
		rt, err = a.namedRoute(req, path[len("/locks/"):], a.routes.status, a.routes.actions)
	case path == "/elections":
		rt = a.routes.elections
	case strings.HasPrefix(path, "/elections/"):
		rt, err = a.namedRoute(req, path[len("/elections/"):], a.routes.election, a.routes.electionActions)
	case path == "/sessions":
		rt = a.routes.create
	case strings.HasPrefix(path, "/sessions/"):
		rt, err = a.sessionRoute(req, path[len("/sessions/"):])
	case path == "/auth/github":
		rt = a.routes.github
	case path == "/auth/github/callback":
		rt = a.routes.callback
	case path == "/auth/token/rotate":
		rt = a.routes.rotate
	case path == "/events":
		rt = a.routes.events
	case path == "/cluster":
		rt = a.routes.cluster
	case path == "/cluster/snapshot":
		rt = a.routes.snapshot
	case strings.HasPrefix(path, "/cluster/nodes/"):
		rt = a.routes.node
		var uerr error // a parameter's error, answered after authentication
		req.nodeID, uerr = url.PathUnescape(path[len("/cluster/nodes/"):])
		if uerr != nil || req.nodeID == "" || len(req.nodeID) > state.MaxNodeIDLen {
			req.paramErr = invalid("invalid node id")
		}
	case path == "/webhooks":
		rt = a.routes.webhooks
	case strings.HasPrefix(path, "/webhooks/"):
		rt = a.routes.webhook
		id, err := parseUUID(path[len("/webhooks/"):])
		if err != nil {
			req.paramErr = invalid("invalid webhook id: must be a UUID like 550e8400-e29b-41d4-a716-446655440000")
		}
		req.id = id
	case path == "/namespaces":
		rt = a.routes.namespaces
	case strings.HasPrefix(path, "/namespaces/"):
		rt = a.routes.namespace
		parseNamespace(req, path[len("/namespaces/"):])
	case path == "/auth/tokens":
		rt = a.routes.tokens
	case strings.HasPrefix(path, "/auth/tokens/"):
		rt = a.routes.token
		req.tokenID = path[len("/auth/tokens/"):]
		if !validTokenID(req.tokenID) {
			req.paramErr = invalid("invalid token id: 16 hexadecimal digits, as listed by GET /auth/tokens")
		}
	default:
		return nil, ErrRouteNotFound
	}
	return rt, err
}

// namedRoute parses "/locks/{name}" (GET) and "/locks/{name}/{action}"
// (POST), and the same shapes under /elections/. A GET of ".../acquire"
// reads the lock named "…/acquire".
func (a *API) namedRoute(req *request, rest string, read *route, actions map[string]*route) (*route, error) {
	rt, raw := read, rest
	if i := strings.LastIndexByte(rest, '/'); i >= 0 && req.Method != http.MethodGet {
		if action, ok := actions[rest[i+1:]]; ok {
			rt, raw = action, rest[:i]
		}
	}
	if _, ok := rt.methods[req.Method]; !ok {
		return rt, ErrMethodNotAllowed
	}
	name, err := url.PathUnescape(raw)
	if err != nil {
		req.paramErr = invalid("name is not valid percent-encoding")
	}
	req.name = name
	return rt, nil
}

// sessionRoute parses "/sessions/{id}" and "/sessions/{id}/keepalive".
func (a *API) sessionRoute(req *request, rest string) (*route, error) {
	rawID, suffix, _ := strings.Cut(rest, "/")
	var rt *route
	switch suffix {
	case "":
		rt = a.routes.session
	case "keepalive":
		rt = a.routes.keepalive
	default:
		return nil, ErrRouteNotFound
	}
	if _, ok := rt.methods[req.Method]; !ok {
		return rt, ErrMethodNotAllowed
	}
	id, err := parseUUID(rawID)
	if err != nil {
		req.paramErr = invalid("invalid session id: must be a UUID like 550e8400-e29b-41d4-a716-446655440000")
	}
	req.id = id
	return rt, nil
}

func validTokenID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !(id[i] >= '0' && id[i] <= '9' || id[i] >= 'a' && id[i] <= 'f') {
			return false
		}
	}
	return true
}

// parseUUID accepts only the canonical 36-character form.
func parseUUID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, ErrInvalidInput
	}
	return uuid.Parse(s)
}

// allow lists a route's methods for the Allow header of a 405.
func (rt *route) allow() string {
	ms := make([]string, 0, len(rt.methods))
	for m := range rt.methods {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}
