package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/octostore/octostore/internal/cluster"
)

const clusterUsage = `Usage:
  octostore cluster status [--json]     the cluster as the node at --url sees it
  octostore cluster remove NODE         take a (dead) member out; administrators only

The server and credentials come from --url/OCTOSTORE_URL and
--token/OCTOSTORE_TOKEN or --token-file/OCTOSTORE_TOKEN_FILE.
`

func runCluster(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "status" && args[0] != "remove") {
		fmt.Fprint(stderr, "octostore cluster: say status or remove\n\n"+clusterUsage)
		return exitUsage
	}
	fs := newFlagSet("cluster "+args[0], stderr)
	conn := addConnFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	rest, err := parseWithArgs(fs, args[1:])
	if want := map[string]int{"status": 0, "remove": 1}[args[0]]; err == nil && len(rest) != want {
		err = fmt.Errorf("%s takes %d argument(s)", args[0], want)
	}
	if err != nil {
		return usageError(fs, err)
	}
	if args[0] == "remove" {
		return report(stderr, conn.call(http.MethodDelete, "/cluster/nodes/"+url.PathEscape(rest[0]), nil))
	}
	var st clusterView
	if err := conn.call(http.MethodGet, "/cluster", &st); err != nil {
		return report(stderr, err)
	}
	return report(stderr, st.write(stdout, *asJSON))
}

type clusterView struct {
	Leader       string `json:"leader"`
	Term         uint64 `json:"term"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Self         string `json:"self"`
	Nodes        []struct {
		ID       string `json:"id"`
		RaftAddr string `json:"raft_addr"`
		HTTPAddr string `json:"http_addr"`
		Role     string `json:"role"`
		Voter    bool   `json:"voter"`
	} `json:"nodes"`
}

func (v clusterView) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	leader := v.Leader
	if leader == "" {
		leader = "(none known)"
	}
	fmt.Fprintf(w, "leader %s, term %d, commit index %d, applied index %d (as seen by %s)\n\n",
		leader, v.Term, v.CommitIndex, v.AppliedIndex, v.Self)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tVOTER\tRAFT\tHTTP")
	for _, n := range v.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", n.ID, n.Role, n.Voter, n.RaftAddr, n.HTTPAddr)
	}
	return tw.Flush()
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
	if args[0] == "save" {
		return report(stderr, saveSnapshot(conn, rest[0], stdout))
	}
	return report(stderr, restoreSnapshot(rest[0], *dataDir, *nodeID, stdout))
}

// saveSnapshot writes the backup next to FILE and renames it into place
// only when complete, so a failed download never looks like a backup.
func saveSnapshot(c *conn, file string, stdout io.Writer) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".octostore-snapshot-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	var n int64
	err = c.exchange(http.MethodGet, "/cluster/snapshot", func(body io.Reader) error {
		var copyErr error
		n, copyErr = io.Copy(tmp, body)
		return copyErr
	})
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
