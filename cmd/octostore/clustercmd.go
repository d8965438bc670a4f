package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/cluster"
)

// clusterCommands are `octostore cluster ...`.
var clusterCommands = map[string]subcommand{
	"status": {nargs: [2]int{0, 0}, help: "the cluster as the node at --url sees it", setup: setupClusterStatus},
	"remove": {args: "NODE", nargs: [2]int{1, 1}, help: "take a (dead) member out; administrators only", setup: setupClusterRemove},
}

func runCluster(args []string, stdout, stderr io.Writer) int {
	return group("cluster", clusterCommands, args, stdout, stderr)
}

type clusterView struct{ *client.ClusterStatus }

func (v clusterView) table(w io.Writer) {
	leader := v.Leader
	if leader == "" {
		leader = "(none known)"
	}
	row(w, fmt.Sprintf("leader %s, term %d, commit index %d, applied index %d (as seen by %s)",
		leader, v.Term, v.CommitIndex, v.AppliedIndex, v.Self))
	row(w)
	row(w, "NODE", "ROLE", "VOTER", "RAFT", "HTTP")
	for _, n := range v.Nodes {
		row(w, n.ID, n.Role, n.Voter, n.RaftAddr, n.HTTPAddr)
	}
}

func setupClusterStatus(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, _ []string) (view, error) {
		st, err := c.Cluster(ctx)
		return clusterView{st}, err
	}
}

func setupClusterRemove(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		return done{"removed"}, c.RemoveNode(ctx, args[0])
	}
}

const snapshotUsage = `Usage:
  octostore snapshot save FILE                       back up a running cluster (administrators only)
  octostore snapshot restore FILE --data-dir DIR     seed a new cluster's first node from a backup

save reads --url/OCTOSTORE_URL and --token/OCTOSTORE_TOKEN (or the token file).
restore writes into an empty data dir; then run octostore serve on it.
`

func runSnapshot(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "save" && args[0] != "restore") {
		fmt.Fprint(stderr, "octostore snapshot: say save or restore\n\n"+snapshotUsage)
		return exitUsage
	}
	fs := newFlagSet("snapshot "+args[0], stderr)
	conn := addConnFlags(fs)
	dataDir := fs.String("data-dir", "", "restore: the new node's (empty) data dir")
	nodeID := fs.String("node-id", "", "restore: the new node's ID (default: generated)")
	rest, err := parseWithArgs(fs, args[1:])
	if err == nil && len(rest) != 1 {
		err = errors.New("give exactly one FILE")
	}
	if err == nil && args[0] == "restore" && *dataDir == "" {
		err = errors.New("restore needs --data-dir")
	}
	if err != nil {
		return usageError(fs, err)
	}
	if args[0] == "restore" {
		err = restoreSnapshot(rest[0], *dataDir, *nodeID, stdout)
	} else {
		err = saveSnapshot(conn, rest[0], stdout)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return 0
}

// saveSnapshot writes the backup next to FILE and renames it into place
// only when complete, so a failed download never looks like a backup.
func saveSnapshot(c *conn, file string, stdout io.Writer) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".octostore-snapshot-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	cl, err := c.client()
	if err != nil {
		tmp.Close()
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := cl.Snapshot(ctx, tmp)
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil { // it holds token hashes and webhook secrets
		return err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %d bytes to %s\n", n, file)
	return nil
}

// restoreSnapshot founds a one-node cluster in an empty data dir with the
// backup's state. Serve the data dir afterwards; others join it.
func restoreSnapshot(file, dataDir, nodeID string, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(dataDir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: restore seeds a new node", dataDir)
	}
	node, err := cluster.Open(cluster.Config{DataDir: dataDir, NodeID: nodeID, Skew: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = node.WaitReady(ctx)
	if err == nil {
		err = node.RestoreBackup(data)
	}
	if err = errors.Join(err, node.Close()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s (node %s); start it with: octostore serve --data-dir %s\n", file, dataDir, node.ID(), dataDir)
	return nil
}
