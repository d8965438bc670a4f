package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/octostore/octostore/client"
)

// tokenCommands are `octostore token ...`.
var tokenCommands = map[string]subcommand{
	"list": {nargs: [2]int{0, 0}, help: "your tokens (--all: everyone's; administrators only)", setup: setupTokenList},
	"create": {args: "--name NAME --prefix P [--prefix P2] [--read-only] [--expires 30d]", nargs: [2]int{0, 0},
		help: "a token limited to lock-name prefixes, printed once", setup: setupTokenCreate},
	"revoke": {args: "ID", nargs: [2]int{1, 1}, help: "revoke a token by the ID that list shows", setup: setupTokenRevoke},
	"issue-admin": {args: "--data-dir DIR", help: "on a stopped single node: a new token for the first-start admin (see -h)",
		setup: func(*flag.FlagSet) runner { return nil }},
}

func runToken(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "issue-admin" { // offline: no server, no token
		return runIssueAdmin(args[1:], stdout, stderr)
	}
	return group("token", tokenCommands, args, stdout, stderr)
}

type tokensView []client.TokenInfo

func (v tokensView) table(w io.Writer) {
	row(w, "ID", "USER", "SOURCE", "NAME", "ACCESS", "PREFIXES", "CREATED", "EXPIRES", "LAST USED", "CURRENT")
	for _, t := range v {
		current := ""
		if t.Current {
			current = "yes"
		}
		row(w, t.ID, t.Login, t.Source, orDash(t.Name), t.Access, orDash(strings.Join(t.Prefixes, ",")), stamp(t.CreatedAt),
			optionalStamp(t.ExpiresAt, "never"), optionalStamp(t.LastUsedAt, "-"), current)
	}
}

func setupTokenList(fs *flag.FlagSet) runner {
	all := fs.Bool("all", false, "list every user's tokens (administrators only)")
	return func(ctx context.Context, c *client.Client, _ []string) (view, error) {
		ts, err := c.ListTokens(ctx, *all)
		return tokensView(ts), err
	}
}

func setupTokenRevoke(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		return done{"revoked"}, c.RevokeToken(ctx, args[0])
	}
}

// conn is where a client command talks to, and as whom.
type conn struct {
	url, token, tokenFile string
	tls                   *tlsFlags
}

func addConnFlags(fs *flag.FlagSet) *conn {
	c := &conn{}
	fs.StringVar(&c.url, "url", "http://127.0.0.1:3000", "server base URL")
	fs.StringVar(&c.token, "token", "", "bearer token")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the bearer token (must not be readable by others)")
	c.tls = addTLSFlags(fs)
	return c
}

// bearer returns the token, from the flag or the file; with neither, from
// the file `octostore login` wrote, if there is one. A token file that
// others can read is refused: it would leak the credential.
func (c *conn) bearer() (string, error) {
	if c.token != "" {
		return c.token, nil
	}
	file, explicit := c.tokenFile, c.tokenFile != ""
	if !explicit {
		file = defaultTokenFile()
	}
	if file == "" {
		return "", nil
	}
	info, err := os.Stat(file)
	if err != nil && !explicit {
		return "", nil // no login yet
	}
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%w: %s has mode %v: chmod 600 it", errInsecureTokenFile, file, info.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	return strings.TrimSpace(string(b)), err
}
