package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/state"
)

const issueAdminHelp = `Usage: octostore token issue-admin --data-dir DIR [--node-id ID]
  give the first-start admin a new token, printed once (a lost token's recovery)

Run it on the data dir of a single node while its server is stopped; then
start the server again. The admin's other tokens keep working: list them
with "octostore token list --all" and revoke the lost one if it may have
leaked. A cluster member is refused: restart it with an identity source
(OCTOSTORE_TOKENS and --admin-users), or ask another administrator.

Flags:
`

// runIssueAdmin is `octostore token issue-admin`: the recovery of a lost
// first-start admin token, done offline on the node's own data dir.
func runIssueAdmin(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("token issue-admin", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, issueAdminHelp)
		fs.PrintDefaults()
	}
	dataDir := fs.String("data-dir", "./octostore-data", "the stopped node's data dir")
	nodeID := fs.String("node-id", "", "the node's --node-id, if its server is started with one")
	if err := parseFlags(fs, args); err != nil {
		return usageError(fs, err)
	}
	token, err := issueAdmin(*dataDir, *nodeID)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stderr, "New token for %q (shown only this once; the server keeps only its SHA-256 hash):\n", auth.AdminLogin)
	fmt.Fprintln(stdout, token)
	return 0
}

// issueAdmin opens the data dir as an offline node (refused while a
// server holds it: the Raft log's file lock), commits a ReissueAdmin
// through Raft like any change, and closes the node.
func issueAdmin(dataDir, nodeID string) (string, error) {
	if !cluster.HasRaftState(dataDir) {
		// Checked first: opening would create a new, empty node there.
		return "", fmt.Errorf("%s is not an OctoStore data dir (no Raft log): give the node's --data-dir", dataDir)
	}
	node, err := cluster.Open(cluster.Config{DataDir: dataDir, NodeID: nodeID, Offline: true, Skew: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if errors.Is(err, cluster.ErrDataDirInUse) {
		return "", fmt.Errorf("%w: stop the server first", err)
	}
	if errors.Is(err, cluster.ErrNotSoleVoter) {
		return "", fmt.Errorf("%w; on a cluster, restart the nodes with OCTOSTORE_TOKENS and --admin-users, or have another administrator issue a token", err)
	}
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd, token := auth.ReissueAdmin()
	err = node.WaitReady(ctx)
	if err == nil {
		err = adminRetired(ctx, node)
	}
	if err == nil {
		var res state.Result
		res, err = node.Apply(ctx, cmd)
		err = errors.Join(err, res.Err)
	}
	if errors.Is(err, state.ErrUnknownUser) {
		err = errors.New("this node has no first-start admin (it was started with static tokens or GitHub sign-in): configure a token in OCTOSTORE_TOKENS and name its user in --admin-users")
	}
	if err = errors.Join(err, node.Close()); err != nil {
		return "", err
	}
	return token, nil
}

// adminRetired refuses a first-start admin that exists but has no token
// left: an identity source was configured, which retired it, or its
// tokens were all revoked. A recovery is for a lost token, not a way back
// to an administrator the configuration ended. The node is offline and
// its only voter, so nothing changes between this read and the Apply.
func adminRetired(ctx context.Context, node *cluster.Node) error {
	retired := false
	err := node.Read(ctx, false, func(v state.View, _ int64) {
		retired = v.Login(auth.AdminID()) == auth.AdminLogin && len(v.Tokens(auth.AdminID())) == 0
	})
	if err == nil && retired {
		err = errors.New("the first-start admin was retired (the node was started with static tokens or GitHub sign-in) " +
			"or has no token left: configure a token in OCTOSTORE_TOKENS and name its user in --admin-users")
	}
	return err
}
