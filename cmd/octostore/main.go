// Command octostore is the OctoStore lock service: `octostore serve` runs
// a node; the other subcommands are its tools.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/octostore/octostore/internal/version"
)

// exitUsage is the BSD sysexits code for bad command-line usage.
const exitUsage = 64

const usage = `OctoStore: a distributed lock service.

Usage:
  octostore serve [flags]     run a server (single durable node by default)
  octostore bench [flags]     load-test a server with acquire+release cycles
  octostore lock hold NAME -- CMD   run CMD while holding a lock (exit codes: lock hold -h)
  octostore lock acquire|renew|release|status|list   work with locks
  octostore elect NAME -- CMD  run CMD while leader of an election (elect -h)
  octostore elect observe NAME print an election's leadership changes
  octostore session create|keepalive|status|delete  work with sessions
  octostore webhook add|list|delete  register endpoints for lock events
  octostore login             sign in with GitHub and keep the token
  octostore token list|revoke list or revoke bearer tokens
  octostore token issue-admin --data-dir DIR   a lost admin token: a new one (server stopped)
  octostore cluster status|remove   see or change the cluster's members
  octostore namespace list|release  owner namespaces bound to GitHub accounts (administrators)
  octostore snapshot save|restore   back up a cluster, or seed a new one from a backup
  octostore health [--ready]  exit 0 if a node is alive (or ready); no token needed
  octostore version           print the version

Run "octostore COMMAND -h" for a command's flags. Every flag can also be
set as an environment variable: --data-dir is OCTOSTORE_DATA_DIR.
`

func main() {
	if writesDataDir(os.Args[1:]) {
		restrictUmask()
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// writesDataDir reports whether the command writes a data dir: serve,
// snapshot restore and token issue-admin. Their process gets umask 077, so any file a
// dependency creates there with a default mode is private, not just the
// ones internal/cluster knows to tighten. It is set here, in the real
// process only, because the umask is process-wide and inherited: `lock
// hold` must not pass it to the command it runs, and in-process tests
// create files with deliberate modes.
func writesDataDir(args []string) bool {
	if len(args) > 1 && (args[0] == "snapshot" && args[1] == "restore" || args[0] == "token" && args[1] == "issue-admin") {
		return true
	}
	return len(args) > 0 && args[0] == "serve"
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "lock":
		return runLock(args[1:], stdout, stderr)
	case "elect":
		return runElect(args[1:], stdout, stderr)
	case "session":
		return group("session", sessionCommands, args[1:], stdout, stderr)
	case "webhook":
		return group("webhook", webhookCommands, args[1:], stdout, stderr)
	case "login":
		return runLogin(args[1:], stdout, stderr)
	case "cluster":
		return runCluster(args[1:], stdout, stderr)
	case "namespace":
		return runNamespace(args[1:], stdout, stderr)
	case "snapshot":
		return runSnapshot(args[1:], stdout, stderr)
	case "health":
		return runHealth(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "octostore", version.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "octostore: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}
