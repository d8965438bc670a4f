package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/api"
	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/httpapi"
	"github.com/octostore/octostore/internal/metrics"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
	"github.com/octostore/octostore/internal/tlsconfig"
	"github.com/octostore/octostore/internal/ui"
	"github.com/octostore/octostore/internal/version"
	"github.com/octostore/octostore/internal/webhook"
)

// Config is everything `octostore serve` takes.
type Config struct {
	Listen  string // HTTP address, e.g. 127.0.0.1:3000
	DataDir string
	NodeID  string
	// Tokens is OCTOSTORE_TOKENS: "user:token" entries; TokensFile holds
	// more, one per line.
	Tokens     string
	TokensFile string
	Skew       time.Duration
	// SignIn is GitHub sign-in, nil when not configured.
	SignIn *auth.GitHub
	// TokenTTL is how long a sign-in token lasts unused (each recorded
	// use moves its expiry); 0: forever.
	TokenTTL time.Duration
	// Accounts tunes the re-checks of signed-in GitHub accounts; the zero
	// value is the defaults (hourly, an answer counting 24 h while GitHub
	// fails).
	Accounts httpapi.AccountChecks
	// AdminUsers names static users who may list and revoke every user's
	// tokens; the first-start admin always may.
	AdminUsers []string
	// Tenancy is shared (one trust domain) or isolated (owner
	// namespaces); GroupsFile holds the static groups, owners in isolated
	// mode.
	Tenancy    tenancy.Mode
	GroupsFile string
	// Webhooks tunes webhook delivery; its logger and user agent are set
	// here.
	Webhooks webhook.Config
	// Cluster holds the Raft networking settings (RaftAddr, RaftAdvertise,
	// ClusterKey, Certs); the rest of cluster.Config is filled in here.
	Cluster cluster.Config
	// HTTPAdvertise is the base URL clients reach this node at, shown in
	// the cluster status; default http://<the listener's address>.
	HTTPAdvertise string
	// JoinAddrs are members' Raft addresses (host:port) to ask for
	// admission over the node channel; empty founds a new cluster when
	// the data dir is empty.
	JoinAddrs []string
	// PprofAddr, when set, serves net/http/pprof on its own listener, never
	// on the API's.
	PprofAddr string
	// Limits are the API's quotas, rate limits and concurrency bounds;
	// the zero value limits nothing.
	Limits httpapi.Limits
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string
	Logger       *slog.Logger
	// Stderr receives the first-start admin token, shown once. It is not
	// a log line, so it never reaches log collectors in structured form.
	Stderr io.Writer

	// TLS, when it names a certificate, serves the API over HTTPS only.
	TLS TLSConfig
}

// Server is a running node with its HTTP listener.
type Server struct {
	cfg      Config
	node     *cluster.Node
	webhooks *webhook.Dispatcher
	metrics  *metrics.Metrics
	http     *http.Server
	nodeHTTP *http.Server // forwarded requests, on the node channel; nil for a single node
	api      *httpapi.API
	ln       net.Listener
	certs    *tlsconfig.Reloader // the API's certificate; nil for plain HTTP
	done     chan error
	stop     context.CancelFunc // ends background work (the join loop)

	tenancy      *tenancy.Policy // who may touch which lock names
	identityOnce sync.Once
	identityDone chan struct{} // closed once the leader has applied the identity config
}

// Start listens, opens the node and starts serving HTTP. A node that is
// its cluster's only voter (every single node is) first waits until it
// leads and has applied the identity configuration, so its tokens work as
// soon as it serves; a member of a larger cluster, or a node waiting to be
// joined, serves at once (answering 503 until it knows a leader).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	users, err := auth.LoadTokens(cfg.Tokens, cfg.TokensFile)
	if err != nil {
		return nil, err
	}
	groups, err := tenancy.LoadGroups(cfg.GroupsFile)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ln: ln, done: make(chan error, 1), identityDone: make(chan struct{})}
	s.tenancy = tenancy.NewPolicy(cfg.Tenancy, groups, s.admins(users))
	if err := s.listenTLS(); err != nil {
		ln.Close()
		return nil, err
	}
	if err := s.open(ctx, users); err != nil {
		ln.Close()
		return nil, err
	}
	cfg.Logger.Info("octostore serving", "addr", s.scheme()+"://"+ln.Addr().String(), "data_dir", cfg.DataDir,
		"node_id", s.node.ID(), "raft_addr", s.node.RaftAddr(), "tls", s.tlsSummary(), "tenancy", cfg.Tenancy.String())
	warnUnknownMembers(cfg.Logger, groups, users)
	s.warnPlainHTTP()
	go func() { s.done <- s.http.Serve(s.serveListener()) }()
	if nodeLn := s.node.ForwardListener(); nodeLn != nil {
		s.nodeHTTP = newHTTPServer(s.api.NodeHandler(), cfg.Logger)
		go s.nodeHTTP.Serve(nodeLn)
	}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	if len(cfg.JoinAddrs) > 0 {
		go s.joinLoop(bg)
	}
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, cfg.Logger)
	}
	return s, nil
}

func (s *Server) open(ctx context.Context, users []state.StaticUser) error {
	cc := s.cfg.Cluster
	cc.DataDir, cc.NodeID, cc.Skew, cc.Logger = s.cfg.DataDir, s.cfg.NodeID, s.cfg.Skew, s.cfg.Logger
	cc.HTTPAddr = s.httpAdvertise()
	cc.Join = len(s.cfg.JoinAddrs) > 0
	s.metrics = metrics.New(version.String())
	cc.Observer = s.metrics
	node, err := cluster.Open(cc)
	if err != nil {
		return err
	}
	s.node = node
	s.metrics.Watch(node)
	s.cfg.Webhooks.Logger = s.cfg.Logger
	s.cfg.Webhooks.Observer = s.metrics
	s.cfg.Webhooks.UserAgent = "OctoStore-Webhook/" + version.String()
	s.cfg.Webhooks.Tenancy = s.tenancy
	s.webhooks = webhook.New(node, s.cfg.Webhooks)
	node.OnLeader(s.webhooks.Run)
	node.OnLeader(func(ctx context.Context) { s.identityTask(ctx, users) })
	s.api = httpapi.New(s.apiConfig(users))
	s.metrics.WatchLoad(s.api.Load)
	s.http = newHTTPServer(s.withHSTS(s.api), s.cfg.Logger)
	if !node.SoleVoter() {
		return nil // the leader is elsewhere, or to be found: serve meanwhile
	}
	if err := s.waitIdentity(ctx); err != nil {
		node.Close()
		return err
	}
	return nil
}

// httpAdvertise is the URL clients reach this node at.
func (s *Server) httpAdvertise() string {
	if s.cfg.HTTPAdvertise != "" {
		return s.cfg.HTTPAdvertise
	}
	return s.scheme() + "://" + s.ln.Addr().String()
}

func (s *Server) waitIdentity(ctx context.Context) error {
	if err := s.node.WaitReady(ctx); err != nil {
		return fmt.Errorf("waiting for leadership: %w", err)
	}
	select {
	case <-s.identityDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("applying the identity configuration: %w", ctx.Err())
	}
}

// identityTask runs on every new leader: it applies this node's static
// users, or, with no identity source, makes sure an admin exists.
func (s *Server) identityTask(ctx context.Context, users []state.StaticUser) {
	defer s.identityOnce.Do(func() { close(s.identityDone) })
	if err := s.applyIdentity(ctx, users); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Error("applying the identity configuration", "err", err)
	}
}

// apiConfig is the HTTP API's configuration. The first-start admin is an
// administrator only while no identity source is configured; after that,
// only the --admin-users are (its tokens are retired too: this is the
// second lock on that door).
func (s *Server) apiConfig(users []state.StaticUser) httpapi.Config {
	cfg := httpapi.Config{Store: s.node, Spec: api.Spec, Logger: s.cfg.Logger,
		WebhookTargets: s.webhooks, Cluster: s.node, Limits: s.cfg.Limits,
		Metrics: s.metrics, MetricsToken: s.cfg.MetricsToken, TokenTTL: s.cfg.TokenTTL,
		Accounts: s.cfg.Accounts, Admins: s.admins(users), Tenancy: s.tenancy}
	if s.cfg.SignIn != nil {
		cfg.SignIn = s.cfg.SignIn // a nil *auth.GitHub must stay a nil interface
	}
	cfg.UI = ui.Handler(ui.Options{GitHubSignIn: s.cfg.SignIn != nil})
	return cfg
}

// admins are the administrators: the --admin-users, and the first-start
// admin while no identity source is configured.
func (s *Server) admins(users []state.StaticUser) []uuid.UUID {
	var ids []uuid.UUID
	if !s.hasIdentitySource(users) {
		ids = append(ids, auth.AdminID())
	}
	for _, name := range s.cfg.AdminUsers {
		ids = append(ids, auth.StaticUserID(name))
	}
	return ids
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       20 * time.Second, // headers and body; routes reading a body set their own deadline (Limits.BodyTimeout)
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// applyIdentity makes the identity configuration current. With static
// users or GitHub sign-in configured, the configuration is authoritative:
// the static set becomes exactly the configured one and static users no
// longer listed and the first-start admin lose every token
// (retireUnlisted). With neither, the node creates the first-start admin
// if no user exists, and leaves existing users alone: in a
// cluster, a leader lacking the configuration must not erase what another
// node set.
func (s *Server) applyIdentity(ctx context.Context, users []state.StaticUser) error {
	if !s.hasIdentitySource(users) {
		return s.bootstrapAdmin(ctx)
	}
	if err := s.apply(ctx, state.SyncStaticUsers{Users: users}); err != nil {
		return fmt.Errorf("apply static tokens: %w", err)
	}
	return s.retireUnlisted(ctx, users)
}

func (s *Server) apply(ctx context.Context, cmd state.Command) error {
	_, err := state.Outcome(s.node.Apply(ctx, cmd))
	return err
}

func (s *Server) showAdminToken(token string) {
	if s.cfg.Stderr == nil {
		return
	}
	fmt.Fprintf(s.cfg.Stderr, `
No identity source is configured, so OctoStore created the user %q.
Its token is shown only this once; only its SHA-256 hash is stored:

    %s

Try it:

    curl -X POST %s://%s/locks/my-lock/acquire \
      -H "Authorization: Bearer %s" -d '{"ttl_seconds": 30}'

%s
`, auth.AdminLogin, token, s.scheme(), s.ln.Addr(), token, s.recoveryHint())
}

// recoveryHint says how a lost admin token is replaced: offline on a
// single node; a node that may gain members cannot do it alone.
func (s *Server) recoveryHint() string {
	cmd := "octostore token issue-admin --data-dir " + s.cfg.DataDir
	if s.cfg.Cluster.RaftAddr == "" {
		return "Lost it? Stop the server and run: " + cmd + "\n"
	}
	return "Lost it? While this node is the only member: stop it and run " + cmd + " --node-id " + s.node.ID() +
		".\nOnce others have joined, restart the nodes with OCTOSTORE_TOKENS and --admin-users.\n"
}

// Addr is the address the HTTP listener is bound to.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Node is the server's Raft node.
func (s *Server) Node() *cluster.Node { return s.node }

// Done reports the HTTP server's end.
func (s *Server) Done() <-chan error { return s.done }

// Shutdown stops accepting requests, ends the long-lived ones (waiting
// acquires answer 503, event streams close), lets the others finish
// (within ctx), then closes the node so that everything acknowledged is
// on disk.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	s.http.SetKeepAlivesEnabled(false)
	s.api.Drain()
	err := s.http.Shutdown(ctx)
	if s.nodeHTTP != nil {
		err = errors.Join(err, s.nodeHTTP.Shutdown(ctx))
	}
	return errors.Join(err, s.node.Close())
}

func servePprof(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("pprof serving", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Warn("pprof stopped", "err", srv.ListenAndServe())
}
