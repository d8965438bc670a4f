package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/octostore/octostore/client"
)

// stdin is where login reads the pasted token; tests replace it.
var stdin io.Reader = os.Stdin

const loginHelp = `Usage: octostore login [--url URL] [--token-file FILE] [--ca-file FILE]
  Sign in with GitHub in a browser, paste the token it shows, and keep it in
  FILE (default $XDG_CONFIG_HOME/octostore/token or ~/.config/octostore/token,
  mode 0600) for the other commands. The token is read from standard input.

Flags:
`

func runLogin(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("login", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, loginHelp)
		fs.PrintDefaults()
	}
	url := fs.String("url", "http://127.0.0.1:3000", "server base URL")
	file := fs.String("token-file", "", "where to keep the token (default: the login file)")
	tlsFlags := addTLSFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return usageError(fs, err)
	}
	tc, err := tlsFlags.config()
	if err != nil {
		return fail(stderr, err)
	}
	if *file == "" {
		*file = defaultTokenFile()
	}
	c, err := client.New(*url, "", client.WithTLS(tc))
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stderr, "Sign in at %s\nthen paste the token it shows here: ", c.SignInURL())
	token, err := readToken(stdin)
	if err != nil {
		return fail(stderr, err)
	}
	login, err := verifyToken(*url, token, tc)
	if err != nil {
		return fail(stderr, err)
	}
	if err := writeTokenFile(*file, token); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "Signed in as %s; token kept in %s\n", safeText(login), *file)
	return 0
}

func readToken(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	token := strings.TrimSpace(line)
	if token == "" {
		return "", errors.New("no token given")
	}
	return token, nil
}

// verifyToken asks the server who the token belongs to.
func verifyToken(url, token string, tc *tls.Config) (string, error) {
	c, err := client.New(url, token, client.WithTLS(tc))
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	toks, err := c.ListTokens(ctx, false)
	if err != nil {
		return "", fmt.Errorf("the token does not work: %w", err)
	}
	for _, t := range toks {
		if t.Current {
			return t.Login, nil
		}
	}
	return "", errors.New("the server does not list the token as current")
}

// writeTokenFile writes the token with mode 0600 (its directory 0700),
// replacing any earlier one atomically.
func writeTokenFile(file, token string) error {
	if file == "" {
		return errors.New("no place for the token: give --token-file")
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(token + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
