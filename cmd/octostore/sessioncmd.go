package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/octostore/octostore/client"
)

var sessionCommands = map[string]subcommand{
	"create":    {nargs: [2]int{0, 0}, help: "start a session (--ttl 10s..300s); prints its ID", setup: setupSessionCreate},
	"keepalive": {args: "ID", nargs: [2]int{1, 1}, help: "extend a session by its TTL", setup: setupKeepAlive},
	"status":    {args: "ID", nargs: [2]int{1, 1}, help: "a session's expiry and lock count", setup: setupSessionStatus},
	"delete":    {args: "ID", nargs: [2]int{1, 1}, help: "end a session, releasing its locks", setup: setupSessionDelete},
}

type sessionView struct {
	ID                    string    `json:"session_id"`
	ExpiresAt             time.Time `json:"expires_at"`
	KeepaliveIntervalSecs int64     `json:"keepalive_interval_secs,omitempty"`
	Active                *bool     `json:"active,omitempty"`
	LockCount             *int      `json:"lock_count,omitempty"`
}

func (v sessionView) table(w io.Writer) {
	head, values := []any{"SESSION ID", "EXPIRES"}, []any{v.ID, stamp(v.ExpiresAt)}
	if v.KeepaliveIntervalSecs > 0 {
		head, values = append(head, "KEEPALIVE EVERY"), append(values, fmt.Sprintf("%ds", v.KeepaliveIntervalSecs))
	}
	if v.Active != nil {
		head, values = append(head, "ACTIVE", "LOCKS"), append(values, *v.Active, *v.LockCount)
	}
	row(w, head...)
	row(w, values...)
}

func setupSessionCreate(fs *flag.FlagSet) runner {
	ttl := fs.Duration("ttl", 60*time.Second, "session TTL (10s to 300s)")
	return func(ctx context.Context, c *client.Client, _ []string) (view, error) {
		s, err := c.CreateSession(ctx, *ttl)
		if err != nil {
			return nil, err
		}
		return sessionView{ID: s.ID, ExpiresAt: s.ExpiresAt, KeepaliveIntervalSecs: s.KeepaliveIntervalSecs}, nil
	}
}

func setupKeepAlive(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		k, err := c.KeepAlive(ctx, args[0])
		if err != nil {
			return nil, err
		}
		return sessionView{ID: k.ID, ExpiresAt: k.ExpiresAt}, nil
	}
}

func setupSessionStatus(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		s, err := c.GetSession(ctx, args[0])
		if err != nil {
			return nil, err
		}
		return sessionView{ID: s.ID, ExpiresAt: s.ExpiresAt, Active: &s.Active, LockCount: &s.LockCount}, nil
	}
}

func setupSessionDelete(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		return done{"deleted"}, c.DeleteSession(ctx, args[0])
	}
}
