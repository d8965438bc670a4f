package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const tokenUsage = `Usage:
  octostore token list [--all] [--json]   your tokens (--all: everyone's; administrators only)
  octostore token revoke ID               revoke a token by the ID that list shows

The server and credentials come from --url/OCTOSTORE_URL and
--token/OCTOSTORE_TOKEN or --token-file/OCTOSTORE_TOKEN_FILE.
`

func runToken(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "revoke") {
		fmt.Fprint(stderr, "octostore token: say list or revoke\n\n"+tokenUsage)
		return exitUsage
	}
	fs := newFlagSet("token "+args[0], stderr)
	conn := addConnFlags(fs)
	all := fs.Bool("all", false, "list every user's tokens (administrators only)")
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseWithArgs(fs, args[1:])
	if err == nil && args[0] == "revoke" && len(rest) != 1 {
		err = errors.New("revoke takes exactly one token ID")
	}
	if err == nil && args[0] == "list" && len(rest) != 0 {
		err = fmt.Errorf("unexpected argument %q", rest[0])
	}
	if err != nil {
		return usageError(fs, err)
	}
	if args[0] == "revoke" {
		return report(stderr, conn.call(http.MethodDelete, "/auth/tokens/"+rest[0], nil))
	}
	path := "/auth/tokens"
	if *all {
		path += "?all=true"
	}
	var list tokenListing
	if err := conn.call(http.MethodGet, path, &list); err != nil {
		return report(stderr, err)
	}
	return report(stderr, list.write(stdout, *asJSON))
}

type tokenListing struct {
	Tokens []struct {
		ID        string    `json:"id"`
		Login     string    `json:"login"`
		Source    string    `json:"source"`
		CreatedAt time.Time `json:"created_at"`
		Current   bool      `json:"current"`
	} `json:"tokens"`
}

func (l tokenListing) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tSOURCE\tCREATED\tCURRENT")
	for _, t := range l.Tokens {
		current := ""
		if t.Current {
			current = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Login, t.Source, t.CreatedAt.Format(time.RFC3339), current)
	}
	return tw.Flush()
}

func report(stderr io.Writer, err error) int {
	if err != nil {
		fmt.Fprintln(stderr, "octostore:", err)
		return 1
	}
	return 0
}

// conn is where a client command talks to, and as whom.
type conn struct {
	url, token, tokenFile string
}

func addConnFlags(fs *flag.FlagSet) *conn {
	c := &conn{}
	fs.StringVar(&c.url, "url", "http://127.0.0.1:3000", "server base URL")
	fs.StringVar(&c.token, "token", "", "bearer token")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the bearer token (must not be readable by others)")
	return c
}

// bearer returns the token, from the flag or the file; with neither, from
// the file `octostore login` wrote, if there is one. A token file that
// others can read is refused: it would leak the credential.
func (c *conn) bearer() (string, error) {
	file := c.tokenFile
	if c.token != "" {
		return c.token, nil
	}
	if file == "" {
		if file = defaultTokenFile(); file == "" {
			return "", nil
		}
		if _, err := os.Stat(file); err != nil {
			return "", nil
		}
	}
	info, err := os.Stat(file)
	if err != nil {
		return "", err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%w: %s has mode %v: chmod 600 it", errInsecureTokenFile, file, info.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	return strings.TrimSpace(string(b)), err
}

// call sends one request and decodes a 2xx JSON answer into out (unless
// nil); any other answer becomes an error carrying the server's message.
func (c *conn) call(method, path string, out any) error {
	return c.exchange(method, path, func(body io.Reader) error {
		if out == nil {
			return nil
		}
		return json.NewDecoder(io.LimitReader(body, 16<<20)).Decode(out)
	})
}

// exchange sends one request and hands a 2xx body to read.
func (c *conn) exchange(method, path string, read func(io.Reader) error) error {
	token, err := c.bearer()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.url, "/")+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, Details string }
		json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		return fmt.Errorf("%s %s: %s: %s %s", method, path, resp.Status, e.Error, e.Details)
	}
	return read(resp.Body)
}
