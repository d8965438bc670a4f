package main

import (
	"context"
	"flag"
	"io"

	"github.com/octostore/octostore/client"
)

// namespaceCommands are `octostore namespace ...`: owner namespaces and
// the GitHub accounts they are bound to (administrators only).
var namespaceCommands = map[string]subcommand{
	"list": {nargs: [2]int{0, 0}, help: "bound namespaces and their accounts; administrators only", setup: setupNamespaceList},
	"release": {args: "NAME", nargs: [2]int{1, 1}, help: "free a namespace's binding (its GitHub login changed hands); administrators only",
		setup: setupNamespaceRelease},
}

func runNamespace(args []string, stdout, stderr io.Writer) int {
	return group("namespace", namespaceCommands, args, stdout, stderr)
}

type namespacesView []client.Namespace

// table prints through row, which escapes control characters: a name
// comes from whoever used it first.
func (v namespacesView) table(w io.Writer) {
	row(w, "NAMESPACE", "ACCOUNT", "BOUND")
	for _, n := range v {
		row(w, n.Name, n.Account, stamp(n.BoundAt))
	}
}

func setupNamespaceList(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, _ []string) (view, error) {
		ns, err := c.AllNamespaces(ctx)
		return namespacesView(ns), err
	}
}

func setupNamespaceRelease(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		return done{"released"}, c.ReleaseNamespace(ctx, args[0])
	}
}
