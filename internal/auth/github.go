package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Sign-in failures. Each is answered 401; the wrapped text says why.
var (
	ErrBadState   = errors.New("sign-in state is unknown, used, expired or not this browser's")
	ErrNotAllowed = errors.New("GitHub account is not allowed on this server")
	ErrGitHub     = errors.New("GitHub sign-in failed")
	// ErrGrantRevoked is GitHub refusing an access token (401): the user
	// revoked the app's authorization, or GitHub expired the token. It
	// always comes wrapped together with ErrGitHub.
	ErrGrantRevoked = errors.New("GitHub access token revoked or expired")
)

const (
	defaultGitHubTimeout = 10 * time.Second
	// maxGitHubBody bounds what we read from GitHub, so a broken or hostile
	// endpoint cannot make us buffer without limit.
	maxGitHubBody = 1 << 20
	maxOrgPages   = 10
)

// GitHubConfig configures sign-in with GitHub (or GitHub Enterprise
// Server).
type GitHubConfig struct {
	ClientID, ClientSecret string
	BaseURL                string // where users sign in: https://github.com
	APIURL                 string // https://api.github.com, or <ghes>/api/v3
	PublicURL              string // this server's external base URL
	AllowedOrgs            []string
	AllowedUsers           []string
	// AllowAnyUser admits every GitHub account when no allow-list is set:
	// only for a deliberately public service.
	AllowAnyUser bool
	Timeout      time.Duration // for each call to GitHub; default 10 s
	// StateTTL is how long a sign-in may take; default 10 minutes.
	StateTTL time.Duration
}

// GitHub runs the OAuth web flow and decides who may sign in.
type GitHub struct {
	cfg    GitHubConfig
	http   *http.Client
	states *pendingStates
}

// Identity is a GitHub account that completed sign-in, or that was
// re-checked with its grant.
type Identity struct {
	GitHubID  int64
	Login     string
	AvatarURL string
	// Orgs are the organizations the account belongs to (as far as the
	// app may see them), sorted by ID.
	Orgs []Org
	// Grant is the OAuth access token GitHub issued at sign-in, kept to
	// re-check Orgs later. It is a secret; it never prints.
	Grant Grant
}

// UserID is the account's stable OctoStore ID. It derives from GitHub's
// numeric ID, not the login, so a renamed account keeps its locks.
func (i Identity) UserID() uuid.UUID {
	return uuid.NewSHA1(namespace, []byte("github:"+strconv.FormatInt(i.GitHubID, 10)))
}

// NewGitHub checks cfg and returns the sign-in flow. It refuses a
// configuration that would admit every GitHub account by accident.
func NewGitHub(cfg GitHubConfig) (*GitHub, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	cfg.APIURL = strings.TrimRight(cfg.APIURL, "/")
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultGitHubTimeout
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = defaultStateTTL
	}
	states := newPendingStates(maxPendingStates, cfg.StateTTL)
	return &GitHub{cfg: cfg, http: &http.Client{Timeout: cfg.Timeout}, states: states}, nil
}

func (c GitHubConfig) validate() error {
	switch {
	case c.ClientSecret == "":
		return errors.New("GitHub sign-in needs a client secret (--github-client-secret or --github-client-secret-file)")
	case len(c.AllowedOrgs) == 0 && len(c.AllowedUsers) == 0 && !c.AllowAnyUser:
		return errors.New("GitHub sign-in would admit every GitHub account: set --github-allowed-orgs or " +
			"--github-allowed-users, or --github-allow-any-user for a deliberately public service")
	}
	for name, u := range map[string]string{"--github-url": c.BaseURL, "--github-api-url": c.APIURL, "--public-url": c.PublicURL} {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%s must be an http(s) URL, not %q", name, u)
		}
	}
	return nil
}

// CallbackURL is where GitHub sends the browser back.
func (g *GitHub) CallbackURL() string { return g.cfg.PublicURL + "/auth/github/callback" }

// Secure reports whether the server is reached over HTTPS, so cookies can
// be marked Secure.
func (g *GitHub) Secure() bool { return strings.HasPrefix(g.cfg.PublicURL, "https://") }

// Begin starts a sign-in: it returns GitHub's authorize URL and the value
// of the cookie that binds the new state to this browser.
func (g *GitHub) Begin(now time.Time) (authorizeURL, binding string) {
	state, binding := g.states.add(now)
	// read:org always: every sign-in records the account's organizations,
	// which own namespaces, not only when an allow-list names some.
	q := url.Values{"client_id": {g.cfg.ClientID}, "redirect_uri": {g.CallbackURL()}, "scope": {"read:user read:org"}, "state": {state}}
	return g.cfg.BaseURL + "/login/oauth/authorize?" + q.Encode(), binding
}

// Finish completes a sign-in: the state must be pending, fresh and bound
// to binding (the browser's cookie); then the code is exchanged, the
// account and its organizations read, and the account checked against
// the allow-lists. The Identity carries the access token as its Grant.
func (g *GitHub) Finish(ctx context.Context, now time.Time, code, state, binding string) (Identity, error) {
	if !g.states.take(now, state, binding) {
		return Identity{}, ErrBadState
	}
	token, err := g.exchange(ctx, code)
	if err != nil {
		return Identity{}, err
	}
	id, err := g.Account(ctx, Grant(token))
	if err != nil {
		return Identity{}, err
	}
	return id, g.Admits(id)
}

func (g *GitHub) exchange(ctx context.Context, code string) (string, error) {
	form := url.Values{"client_id": {g.cfg.ClientID}, "client_secret": {g.cfg.ClientSecret},
		"code": {code}, "redirect_uri": {g.CallbackURL()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.BaseURL+"/login/oauth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrGitHub, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := g.do(req, &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("%w: code exchange refused: %s %s", ErrGitHub, out.Error, out.Description)
	}
	return out.AccessToken, nil
}

// Admits applies the allow-lists to an account as GitHub described it: a
// listed user, or a member of a listed organization; anyone only when no
// list is set and that was asked for. Sign-in applies it, and so does each
// re-check of a signed-in account, so that a member removed from every
// allowed organization loses its tokens.
func (g *GitHub) Admits(id Identity) error {
	if containsFold(g.cfg.AllowedUsers, id.Login) {
		return nil
	}
	if len(g.cfg.AllowedOrgs) == 0 {
		if len(g.cfg.AllowedUsers) == 0 && g.cfg.AllowAnyUser {
			return nil
		}
		return fmt.Errorf("%w: %s is not in --github-allowed-users", ErrNotAllowed, id.Login)
	}
	for _, o := range id.Orgs {
		if containsFold(g.cfg.AllowedOrgs, o.Login) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s is not a member of an allowed organization", ErrNotAllowed, id.Login)
}

func (g *GitHub) get(ctx context.Context, token Grant, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.APIURL+path, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrGitHub, err)
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	err = g.do(req, out)
	if se := (*statusError)(nil); errors.As(err, &se) && se.code == http.StatusUnauthorized {
		// With a token, 401 says the token is no good; other failures
		// (5xx, rate limits) say nothing about it.
		return fmt.Errorf("%w: %w", ErrGrantRevoked, err)
	}
	return err
}

// statusError is a non-2xx answer from GitHub; it is an ErrGitHub.
type statusError struct {
	method, path, status string
	code                 int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%v: %s %s answered %s", ErrGitHub, e.method, e.path, e.status)
}

func (e *statusError) Unwrap() error { return ErrGitHub }

// do sends req with a bounded time and body and decodes a 2xx JSON answer.
func (g *GitHub) do(req *http.Request, out any) error {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "OctoStore")
	resp, err := g.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrGitHub, req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxGitHubBody))
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrGitHub, req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 != 2 {
		return &statusError{method: req.Method, path: req.URL.Path, status: resp.Status, code: resp.StatusCode}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: %s %s: unreadable answer: %v", ErrGitHub, req.Method, req.URL.Path, err)
	}
	return nil
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}
