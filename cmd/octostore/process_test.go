package main

import (
	"os"
	"testing"

	"github.com/octostore/octostore/internal/proctest"
)

// binary is the octostore executable built once for the process tests.
var binary string

func TestMain(m *testing.M) { os.Exit(proctest.Main(m, &binary)) }

// proc is a running `octostore serve` process.
type proc = proctest.Proc

// startServe runs the binary with JSON logs on an ephemeral port.
func startServe(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	return proctest.Start(t, binary, env, args...)
}
