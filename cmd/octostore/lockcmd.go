package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/octostore/octostore/client"
)

func runLock(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "hold" {
		return runHold(args[1:], stdout, stderr)
	}
	return group("lock", lockCommands, args, stdout, stderr)
}

var lockCommands = map[string]subcommand{
	"acquire": {args: "NAME", nargs: [2]int{1, 1}, help: "take a lock (--wait: queue for it); prints the lease", setup: setupAcquire},
	"renew":   {args: "NAME LEASE_ID", nargs: [2]int{2, 2}, help: "extend a lease to --ttl from now", setup: setupRenew},
	"release": {args: "NAME LEASE_ID", nargs: [2]int{2, 2}, help: "free a lock", setup: setupRelease},
	"status":  {args: "NAME", nargs: [2]int{1, 1}, help: "who holds a lock (--wait --index: when it changes)", setup: setupStatus},
	"list":    {args: "[PREFIX]", nargs: [2]int{0, 1}, help: "held locks, by name", setup: setupList},
	"hold": {args: "NAME [flags] -- CMD [ARGS...]", nargs: [2]int{1, 1},
		help: "run CMD while holding the lock (see octostore lock hold -h)", setup: func(*flag.FlagSet) runner { return nil }},
}

// leaseView prints a lock as its holder sees it.
type leaseView struct{ *client.Lock }

func (v leaseView) table(w io.Writer) {
	row(w, "NAME", "STATUS", "HOLDER", "FENCING TOKEN", "EXPIRES", "LEASE ID")
	row(w, v.Name, v.Status, v.Holder, v.FencingToken, stamp(v.ExpiresAt), v.LeaseID)
}

func stamp(t time.Time) string { return t.Local().Format(time.RFC3339) }

func setupAcquire(fs *flag.FlagSet) runner {
	ttl := fs.Duration("ttl", 30*time.Second, "lease TTL (1s to 1h)")
	wait := fs.Duration("wait", 0, "wait up to this long (at most 5m) for a held lock; 0 fails at once")
	session := fs.String("session", "", "acquire with this session ID")
	metadata := fs.String("metadata", "", "text stored with the lock")
	limit := fs.Int("limit", 0, "take one slot of a counting semaphore of this many (2 to 1000)")
	shared := fs.Bool("shared", false, "take a read/write lock as a reader")
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		if err := checkShape(*limit, *shared); err != nil {
			return nil, fmt.Errorf("%w: %w", client.ErrInvalid, err)
		}
		l, err := c.Acquire(ctx, args[0], client.AcquireOptions{TTL: *ttl, Wait: *wait, SessionID: *session, Metadata: *metadata,
			Limit: *limit, Mode: mode(*shared)})
		return leaseView{l}, err
	}
}

func setupRenew(fs *flag.FlagSet) runner {
	ttl := fs.Duration("ttl", 30*time.Second, "new TTL from now (1s to 1h)")
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		l, err := c.Renew(ctx, args[0], args[1], *ttl)
		return leaseView{l}, err
	}
}

// done is the answer of a command that only succeeds.
type done struct {
	Status string `json:"status"`
}

func (d done) table(w io.Writer) { row(w, d.Status) }

func setupRelease(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		return done{"released"}, c.Release(ctx, args[0], args[1])
	}
}

type statusView struct{ *client.LockStatus }

func (v statusView) table(w io.Writer) {
	if !v.Held {
		row(w, v.Name, "available")
		return
	}
	if len(v.Holders) > 0 { // a semaphore, or a read/write lock held shared: every holder
		row(w, "NAME", "LIMIT", "MODE", "HOLDER", "FENCING TOKEN", "EXPIRES", "WAITERS", "METADATA")
		for _, h := range v.Holders {
			row(w, v.Name, v.Limit, v.Mode, h.Holder, h.FencingToken, stamp(h.ExpiresAt), v.Waiters, h.Metadata)
		}
		return
	}
	row(w, "NAME", "HOLDER", "FENCING TOKEN", "EXPIRES", "WAITERS", "METADATA")
	row(w, v.Name, v.Holder, v.FencingToken, stamp(v.ExpiresAt), v.Waiters, v.Metadata)
}

// MarshalJSON shows the server's answer plus held and the index.
func (v statusView) MarshalJSON() ([]byte, error) {
	if !v.Held {
		return json.Marshal(struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Held   bool   `json:"held"`
			Index  uint64 `json:"index"`
		}{v.Name, v.Status, v.Held, v.Index})
	}
	// plain drops this method; the outer fields override its json:"-" ones.
	type plain client.LockStatus
	return json.Marshal(struct {
		plain
		Held  bool   `json:"held"`
		Index uint64 `json:"index"`
	}{plain(*v.LockStatus), v.Held, v.Index})
}

func setupStatus(fs *flag.FlagSet) runner {
	stale := fs.Bool("stale", false, "answer from the node's own state")
	wait := fs.Duration("wait", 0, "with --index: block up to this long (at most 5m) until the lock changes")
	index := fs.Uint64("index", 0, `with --wait: the "index" of an earlier --json answer`)
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		st, err := c.Get(ctx, args[0], client.GetOptions{Stale: *stale, Wait: *wait, Index: *index})
		return statusView{st}, err
	}
}

type listView struct {
	Locks     []client.ListedLock `json:"locks"`
	NextAfter *string             `json:"next_after,omitempty"`
}

func (v listView) table(w io.Writer) {
	row(w, "NAME", "HOLDER", "FENCING TOKEN", "EXPIRES", "METADATA")
	for _, l := range v.Locks {
		meta := ""
		if l.Metadata != nil {
			meta = *l.Metadata
		}
		row(w, l.Name, l.Holder, l.FencingToken, stamp(l.ExpiresAt), meta)
	}
	if v.NextAfter != nil {
		row(w, "(more: --after "+*v.NextAfter+")")
	}
}

func setupList(fs *flag.FlagSet) runner {
	limit := fs.Int("limit", 0, "at most this many (one page); 0 lists every lock, page by page")
	after := fs.String("after", "", "start after this name (the previous page's last)")
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		prefix := ""
		if len(args) == 1 {
			prefix = args[0]
		}
		if *limit == 0 && *after == "" {
			all, err := c.ListAll(ctx, prefix)
			return listView{Locks: all}, err
		}
		page, err := c.List(ctx, client.ListOptions{Prefix: prefix, After: *after, Limit: *limit})
		if err != nil {
			return nil, err
		}
		return listView{Locks: page.Locks, NextAfter: page.NextAfter}, nil
	}
}
