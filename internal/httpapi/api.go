package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
)

// Store is what the API needs from the replicated state.
type Store interface {
	// Apply proposes cmd and waits for it to be committed and applied.
	Apply(ctx context.Context, cmd state.Command) (state.Result, error)
	// Read runs fn on a read-only view of the state, linearizably unless
	// stale. fn must not keep the view, or slices it returns, after it
	// returns: the state moves on.
	Read(ctx context.Context, stale bool, fn func(s state.View, now int64)) error
	// ExpectGrant announces a waiting acquire's lease; the channel gets
	// the lock when it is handed over, and is closed if the waiter is
	// dropped (a leader change empties the queues). The function stops the
	// interest.
	ExpectGrant(lease uuid.UUID) (<-chan state.Lock, func())
	// Changed is closed at the next change of state.
	Changed() <-chan struct{}
}

// SignIn is the GitHub web flow (auth.GitHub).
type SignIn interface {
	// Begin returns where to send the browser and the cookie value that
	// binds the sign-in to it.
	Begin(now time.Time) (authorizeURL, binding string)
	// Finish checks the state and its binding, exchanges the code, reads
	// the account and its organizations and applies the allow-lists.
	Finish(ctx context.Context, now time.Time, code, state, binding string) (auth.Identity, error)
	// Account reads the account a grant acts for, and its organizations,
	// again; a grant GitHub refuses is an auth.ErrGrantRevoked.
	Account(ctx context.Context, grant auth.Grant) (auth.Identity, error)
	// Admits applies the allow-lists to an account; nil when admitted.
	Admits(id auth.Identity) error
	// Secure reports whether the server is reached over HTTPS.
	Secure() bool
}

// Config is what New needs.
type Config struct {
	Store  Store
	Spec   []byte // served at /openapi.yaml
	Logger *slog.Logger
	// SignIn is nil when GitHub sign-in is not configured.
	SignIn SignIn
	// Admins may list and revoke every user's tokens.
	Admins []uuid.UUID
	// WebhookTargets vets webhook URLs.
	WebhookTargets WebhookTargets
	// Cluster is the Raft node: leadership for forwarding, membership.
	Cluster Cluster
	// UI serves the dashboard at /ui and /ui/...; nil leaves those paths
	// unrouted.
	UI http.Handler
	// Limits are quotas, rate limits and concurrency bounds.
	Limits Limits
	// Metrics counts requests and serves /metrics; nil for none.
	Metrics Metrics
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// TokenTTL is how long a sign-in token lasts unused: each recorded
	// use (see usage) moves its expiry to that use plus TokenTTL. 0:
	// sign-in tokens never expire.
	TokenTTL time.Duration
	// Accounts tunes the re-checks of GitHub accounts (accounts.go).
	Accounts AccountChecks
	// Tenancy decides which lock names each user may touch; nil is
	// shared (one trust domain).
	Tenancy *tenancy.Policy
}

// Metrics is the instrumentation the API feeds and serves.
type Metrics interface {
	http.Handler // the exposition
	// ObserveRequest counts an answered request by route pattern.
	ObserveRequest(route, method string, status int, d time.Duration)
}

// API is the http.Handler serving OctoStore's routes.
type API struct {
	store     Store
	log       *slog.Logger
	spec      []byte
	ui        http.Handler
	signIn    SignIn
	admins    map[uuid.UUID]bool
	targets   WebhookTargets
	cluster   Cluster
	forwarder http.Handler
	streams   streams
	draining  chan struct{} // closed by Drain
	drainOnce sync.Once
	reqPre    string        // random per process, so request IDs are unique across restarts
	reqSeq    atomic.Uint64 // cheaper than a random ID per request
	routes    routes
	limits    Limits
	limiter   *rateLimiter
	authFails *authFailures // failed authentications per client address
	inFlight  *semaphore    // short requests being served
	waiting   *semaphore    // long waits being held
	clients   *clientSlots  // each client's requests being read or served
	metrics   Metrics
	tokenTTL  time.Duration
	tenancy   *tenancy.Policy
	usage     inFlight[state.TokenHash] // tokens whose use is being recorded
	accounts  *accounts                 // GitHub accounts being re-checked
	// metricsToken is the digest of the token /metrics requires; nil when
	// it is public.
	metricsToken *state.TokenHash
}

// Drain ends the requests that could last minutes (waiting acquires, event
// streams, blocking reads) so a graceful shutdown need not wait for them;
// a waiter leaves its queue and is told to retry elsewhere. Other requests
// finish normally.
func (a *API) Drain() { a.drainOnce.Do(func() { close(a.draining) }) }

// New returns the handler.
func New(cfg Config) *API {
	var b [4]byte
	rand.Read(b[:])
	a := &API{store: cfg.Store, log: cfg.Logger, spec: cfg.Spec, signIn: cfg.SignIn, targets: cfg.WebhookTargets,
		cluster: cfg.Cluster, admins: map[uuid.UUID]bool{}, reqPre: hex.EncodeToString(b[:]) + "-",
		draining: make(chan struct{}), limits: cfg.Limits, limiter: newRateLimiter(cfg.Limits.Rate, cfg.Limits.Burst),
		inFlight: newSemaphore(cfg.Limits.MaxInFlight), waiting: newSemaphore(cfg.Limits.MaxWaiting),
		clients: &clientSlots{}, authFails: newAuthFailures(cfg.Limits.AuthFailureLimit)}
	if a.cluster != nil {
		a.forwarder = a.newForwarder()
	}
	a.ui = cfg.UI
	a.metrics = cfg.Metrics
	a.tokenTTL = cfg.TokenTTL
	a.accounts = newAccounts(cfg.Accounts)
	a.tenancy = cfg.Tenancy
	if cfg.MetricsToken != "" {
		h := state.HashToken(cfg.MetricsToken)
		a.metricsToken = &h
	}
	for _, id := range cfg.Admins {
		a.admins[id] = true
	}
	a.buildRoutes()
	return a
}

// request is what a handler gets: the HTTP request plus what routing and
// authentication established.
type request struct {
	*http.Request
	user  state.User
	token state.TokenHash // the digest of the bearer token used
	tok   state.Token     // its record: scope, expiry
	name  string          // lock name, for lock routes
	id    uuid.UUID       // session ID, for session routes
	// tokenID is a token's public ID, for /auth/tokens/{id}.
	tokenID string
	nodeID  string // for /cluster/nodes/{id}
	// namespace is {name} of /namespaces/{name}, as given.
	namespace string
	adm       admission // empty for routes outside admission control
	// paramErr is a malformed path parameter, answered 422 once the
	// caller is authenticated.
	paramErr error
	// body is the request body readBodyFirst read, for the handler; nil
	// when it read none.
	body []byte
	// Isolated tenancy (checkNamespace): the binding an acquire proposes
	// first, and what a confined list reads.
	bind     tenancy.Binding
	spans    []tenancy.Span
	confined bool
}

type handler func(w http.ResponseWriter, r *request)

// ServeHTTP routes, authenticates and bounds every request, and logs it at
// debug level.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	handling(r)
	id := a.requestID(r)
	w.Header()["X-Request-Id"] = []string{id}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer a.recoverPanic(rec, r)
	name, forwarded := a.serve(rec, r)
	d := time.Since(start)
	if a.metrics != nil {
		a.metrics.ObserveRequest(name, r.Method, rec.status, d)
	}
	if a.log.Enabled(r.Context(), slog.LevelDebug) {
		a.log.Debug("request", "request_id", id, "method", r.Method, "route", name, "forwarded", forwarded,
			"status", rec.status, "duration", d)
	}
}

// serve answers r and returns its route's pattern, for the log and the
// metrics, and whether it was forwarded to the leader.
func (a *API) serve(w http.ResponseWriter, r *http.Request) (string, bool) {
	if hasBody(r) && r.ProtoMajor == 1 {
		// Until the body is read, an answer closes the connection: net/http
		// would otherwise read the rest of the body after the answer, to
		// reuse the connection, at whatever pace the client sends it.
		// (HTTP/2 resets the stream of an unread body instead.)
		w.Header()["Connection"] = connectionClose
		defer dropUnreadBody(w)
	}
	rt, h, req, err := a.resolve(r)
	if err != nil {
		if rt != nil && errors.Is(err, ErrMethodNotAllowed) {
			w.Header().Set("Allow", rt.allow())
		}
		a.writeError(w, r, err)
		return routeName(rt), false
	}
	forward := a.shouldForward(rt, r)
	defer req.adm.done()
	if err := a.intake(w, rt, req, forward); err != nil {
		a.writeError(w, r, err)
		return rt.name, false
	}
	if forward {
		// The leader admits forwarded requests; here they cost a goroutine.
		a.forward(w, r)
		return rt.name, true
	}
	if req.body == nil { // else intake read and bounded it already
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	h(w, req)
	return rt.name, false
}

func routeName(rt *route) string {
	if rt == nil {
		return "unknown"
	}
	return rt.name
}

// apply proposes cmd and answers its failure, if any; ok says whether the
// caller should write the success response.
func (a *API) apply(w http.ResponseWriter, r *request, cmd state.Command) (res state.Result, ok bool) {
	res, err := state.Outcome(a.store.Apply(r.Context(), cmd))
	if err != nil {
		a.writeError(w, r.Request, err)
		return res, false
	}
	return res, true
}

// authenticate finds the bearer token's user and record. An expired
// token is refused like an unknown one, against the later of the request
// time and the state's clock.
func (a *API) authenticate(r *http.Request) (state.User, state.Token, error) {
	token, ok := auth.BearerToken(r.Header.Get("Authorization"))
	if !ok {
		return state.User{}, state.Token{}, ErrUnauthorized
	}
	h := state.HashToken(token)
	// One variable for the closure to fill: captured values move to the
	// heap, and this costs one allocation instead of three.
	var got struct {
		t     state.Token
		u     state.User
		found bool
	}
	// Token lookups read local state: a follower forwards to the leader
	// before it gets here, and rotation is applied on the leader first.
	err := a.store.Read(r.Context(), true, func(s state.View, now int64) { got.t, got.u, got.found = s.TokenFor(h, now) })
	if err != nil {
		return state.User{}, state.Token{}, err
	}
	if !got.found {
		return state.User{}, state.Token{}, ErrUnauthorized
	}
	return got.u, got.t, nil
}

// requestID keeps a sane caller-supplied X-Request-Id, so one ID follows a
// request through proxies, and otherwise makes one.
func (a *API) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); validRequestID(id) {
		return id
	}
	return a.newRequestID()
}

func (a *API) newRequestID() string { return a.reqPre + strconv.FormatUint(a.reqSeq.Add(1), 36) }

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (a *API) recoverPanic(w *statusRecorder, r *http.Request) {
	v := recover()
	if v == nil || v == http.ErrAbortHandler {
		if v != nil {
			panic(v)
		}
		return
	}
	a.log.Error("handler panic", "panic", v, "request_id", w.Header().Get("X-Request-Id"), "path", r.URL.Path)
	if !w.wrote {
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: "Internal error", Code: "internal"})
	}
}

// statusRecorder remembers the status for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
