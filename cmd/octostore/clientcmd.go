package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/octostore/octostore/client"
)

// Exit codes of the client commands (BSD sysexits where one fits). `lock
// hold` exits with its command's status otherwise.
const (
	exitFailure     = 1  // any other error (a lease or session not found, ...)
	exitUnavailable = 69 // EX_UNAVAILABLE: the server could not be reached or answered 503
	exitOSErr       = 71 // EX_OSERR: the command could not be started
	exitLockHeld    = 73 // EX_CANTCREAT: the lock is held by someone else (after --wait)
	exitLeaseLost   = 75 // EX_TEMPFAIL: the lease was lost while the command ran; it was signalled
	exitNoPerm      = 77 // EX_NOPERM: unauthorized, forbidden, or an unsafe token file
)

// errInsecureTokenFile: a token file others can read is refused.
var errInsecureTokenFile = errors.New("token file is readable by others")

// exitCode maps an error of the client package to the documented codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, client.ErrLockHeld):
		return exitLockHeld
	case errors.Is(err, client.ErrUnavailable):
		return exitUnavailable
	case errors.Is(err, client.ErrUnauthorized), errors.Is(err, client.ErrForbidden), errors.Is(err, errInsecureTokenFile):
		return exitNoPerm
	}
	return exitFailure
}

// fail prints err, which may carry the server's words, and returns its
// exit code.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "octostore:", safeText(err.Error()))
	return exitCode(err)
}

// defaultTokenFile is where `octostore login` keeps the token:
// $XDG_CONFIG_HOME/octostore/token, else ~/.config/octostore/token.
func defaultTokenFile() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "octostore", "token")
}

// client returns a client of the server the flags name, authenticated
// with the token from --token, --token-file or the login file.
func (c *conn) client() (*client.Client, error) {
	token, err := c.bearer()
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("%w: no token: give --token, OCTOSTORE_TOKEN or OCTOSTORE_TOKEN_FILE, or run octostore login",
			client.ErrUnauthorized)
	}
	tc, err := c.tls.config()
	if err != nil {
		return nil, err
	}
	return client.New(c.url, token, client.WithTLS(tc))
}

// subcommand is one command of a group (lock, session, webhook).
type subcommand struct {
	args  string // positional arguments, for the help: "NAME LEASE_ID"
	nargs [2]int // how many positional arguments: at least, at most
	help  string // one line
	// setup declares the command's flags and returns what runs it.
	setup func(fs *flag.FlagSet) runner
}

// runner does a command's work and returns what to print.
type runner func(ctx context.Context, c *client.Client, args []string) (view, error)

// view is a command's answer: printed as JSON with --json, else as a
// table.
type view interface {
	table(w io.Writer)
}

// group runs "octostore GROUP SUB ARGS": it parses the flags (with their
// OCTOSTORE_* variables), checks the arguments, and prints the answer.
func group(name string, subs map[string]subcommand, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || subs[args[0]].setup == nil {
		fmt.Fprintf(stderr, "octostore %s: say one of %s\n\n%s", name, strings.Join(slices.Sorted(maps.Keys(subs)), ", "), groupUsage(name, subs))
		return exitUsage
	}
	sub := subs[args[0]]
	fs := newFlagSet(name+" "+args[0], stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: octostore %s %s %s [flags]\n  %s\n\n%s\nFlags:\n", name, args[0], sub.args, sub.help, connHelp)
		fs.PrintDefaults()
	}
	conn := addConnFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	run := sub.setup(fs)
	rest, err := parseWithArgs(fs, args[1:])
	if err == nil && (len(rest) < sub.nargs[0] || len(rest) > sub.nargs[1]) {
		err = fmt.Errorf("want %s, got %d argument(s)", cmp.Or(sub.args, "no arguments"), len(rest))
	}
	if err != nil {
		return usageError(fs, err)
	}
	c, err := conn.client()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := run(ctx, c, rest)
	if err != nil {
		return fail(stderr, err)
	}
	if err := show(stdout, v, *asJSON); err != nil {
		return fail(stderr, err)
	}
	return 0
}

const connHelp = `The server is --url or OCTOSTORE_URL (default http://127.0.0.1:3000); the token
--token/OCTOSTORE_TOKEN, --token-file/OCTOSTORE_TOKEN_FILE (mode 0600), or the
file "octostore login" wrote. For https:// URLs, --ca-file/OCTOSTORE_CA_FILE
adds CAs to trust, and --cert-file/--key-file (OCTOSTORE_CERT_FILE,
OCTOSTORE_KEY_FILE) present a client certificate.
`

func groupUsage(name string, subs map[string]subcommand) string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, k := range slices.Sorted(maps.Keys(subs)) {
		fmt.Fprintf(tw, "  octostore %s %s %s\t%s\n", name, k, subs[k].args, subs[k].help)
	}
	tw.Flush()
	b.WriteString("\nEvery command takes --json for machine output.\n" + connHelp)
	return b.String()
}

// show prints v as indented JSON or as its table.
func show(w io.Writer, v view, asJSON bool) error {
	if asJSON {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(safeJSON(b), '\n'))
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	v.table(tw)
	return tw.Flush()
}
