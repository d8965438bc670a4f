package main

import (
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
)

// gitHubFlags are serve's GitHub sign-in settings.
type gitHubFlags struct {
	clientID, secret, secretFile, baseURL, apiURL, publicURL string
	orgs, users                                              string
	allowAny                                                 bool
	// tokenTTL is --token-ttl: how long a sign-in token lasts unused.
	tokenTTL lifetime
}

func addGitHubFlags(fs *flag.FlagSet) *gitHubFlags {
	g := &gitHubFlags{}
	fs.StringVar(&g.clientID, "github-client-id", "", "GitHub OAuth app client ID (enables GitHub sign-in)")
	fs.StringVar(&g.secret, "github-client-secret", "", "GitHub OAuth app client secret (prefer the env var or the file)")
	fs.StringVar(&g.secretFile, "github-client-secret-file", "", "file holding the GitHub OAuth app client secret")
	fs.StringVar(&g.baseURL, "github-url", "https://github.com", "GitHub (or GitHub Enterprise Server) base URL")
	fs.StringVar(&g.apiURL, "github-api-url", "https://api.github.com", "GitHub API base URL (GHES: <base>/api/v3)")
	fs.StringVar(&g.publicURL, "public-url", "", "this server's external base URL (default: http://<listen>, https:// with --tls-cert-file)")
	fs.StringVar(&g.orgs, "github-allowed-orgs", "", "comma list: members of these organizations may sign in")
	fs.StringVar(&g.users, "github-allowed-users", "", "comma list: these GitHub users may sign in")
	fs.BoolVar(&g.allowAny, "github-allow-any-user", false, "let every GitHub account sign in (a public service only)")
	g.tokenTTL = lifetime(90 * 24 * time.Hour)
	fs.Var(&g.tokenTTL, "token-ttl", "a GitHub sign-in token expires after this long unused (90d, 12h); 0 never")
	return g
}

// signIn builds the GitHub flow, or nil when no client ID is set. It
// fails when the configuration is incomplete or would admit everyone.
// overTLS says the server itself serves HTTPS, which the default public
// URL then uses.
func (g *gitHubFlags) signIn(listen string, overTLS bool) (*auth.GitHub, error) {
	if time.Duration(g.tokenTTL) > state.MaxTokenTTL {
		return nil, fmt.Errorf("--token-ttl must be at most %v", state.MaxTokenTTL)
	}
	if g.clientID == "" {
		return nil, nil
	}
	secret, err := g.clientSecret()
	if err != nil {
		return nil, err
	}
	public := g.publicURL
	if public == "" && overTLS {
		public = "https://" + publicHost(listen)
	} else if public == "" {
		public = "http://" + publicHost(listen)
	}
	return auth.NewGitHub(auth.GitHubConfig{
		ClientID: g.clientID, ClientSecret: secret, BaseURL: g.baseURL, APIURL: g.apiURL, PublicURL: public,
		AllowedOrgs: commaList(g.orgs), AllowedUsers: commaList(g.users), AllowAnyUser: g.allowAny,
	})
}

func (g *gitHubFlags) clientSecret() (string, error) {
	return secretFrom(g.secret, g.secretFile, "--github-client-secret")
}

// publicHost turns a listen address into one a browser can reach.
func publicHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if unspecified(host) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func commaList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
