package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/octostore/octostore/client"
)

var webhookCommands = map[string]subcommand{
	"add":    {args: "URL", nargs: [2]int{1, 1}, help: "register an HTTPS endpoint for lock events", setup: setupWebhookAdd},
	"list":   {nargs: [2]int{0, 0}, help: "your webhooks", setup: setupWebhookList},
	"delete": {args: "ID", nargs: [2]int{1, 1}, help: "remove a webhook", setup: setupWebhookDelete},
}

type webhooksView []client.Webhook

func (v webhooksView) table(w io.Writer) {
	row(w, "ID", "URL", "EVENTS", "PATTERN", "ACTIVE", "CREATED")
	for _, h := range v {
		pattern := "**"
		if h.LockPattern != nil {
			pattern = *h.LockPattern
		}
		active := fmt.Sprint(h.Active)
		if h.InactiveReason != nil && *h.InactiveReason != "" {
			active += " (" + *h.InactiveReason + ")"
		}
		row(w, h.ID, h.URL, strings.Join(h.Events, ","), pattern, active, stamp(h.CreatedAt))
	}
}

func setupWebhookAdd(fs *flag.FlagSet) runner {
	secretFile := fs.String("secret-file", "", "file holding the HMAC signing secret (flags show in ps: prefer this or OCTOSTORE_SECRET)")
	secret := fs.String("secret", "", "HMAC signing secret")
	events := fs.String("events", "*", `comma list of acquired, renewed, released, expired, or "*"`)
	pattern := fs.String("pattern", "", `lock name pattern: "deploy/**", "svc/*/lock"; empty: every lock`)
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		s, err := secretFrom(*secret, *secretFile, "secret")
		if err != nil {
			return nil, err
		}
		h, err := c.AddWebhook(ctx, client.WebhookOptions{URL: args[0], Secret: s, Events: commaList(*events), LockPattern: *pattern})
		if err != nil {
			return nil, err
		}
		return webhooksView{*h}, nil
	}
}

func setupWebhookList(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, _ []string) (view, error) {
		hs, err := c.ListWebhooks(ctx)
		return webhooksView(hs), err
	}
}

func setupWebhookDelete(*flag.FlagSet) runner {
	return func(ctx context.Context, c *client.Client, args []string) (view, error) {
		return done{"deleted"}, c.DeleteWebhook(ctx, args[0])
	}
}
