package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/octostore/octostore/client"
)

// prefixList is a repeatable --prefix.
type prefixList []string

func (p *prefixList) String() string { return strings.Join(*p, ",") }

func (p *prefixList) Set(v string) error {
	*p = append(*p, v)
	return nil
}

// lifetime is --expires: a Go duration (720h) or whole days (30d); 0 or
// "never" for a token that never expires.
type lifetime time.Duration

func (l *lifetime) String() string { return time.Duration(*l).String() }

func (l *lifetime) Set(v string) error {
	if v == "never" {
		*l = 0
		return nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3660 {
			return errors.New("days must be a whole number from 0 to 3660")
		}
		*l = lifetime(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("want a duration like 30d, 12h or never")
	}
	*l = lifetime(d)
	return nil
}

func setupTokenCreate(fs *flag.FlagSet) runner {
	name := fs.String("name", "", "a label for the token, shown by list (required)")
	var prefixes prefixList
	fs.Var(&prefixes, "prefix", "a lock-name prefix the token covers, like acme/deploy/ (required; repeat for more)")
	readOnly := fs.Bool("read-only", false, "status, lists and events only: no acquire, renew, release or sessions")
	var expires lifetime
	fs.Var(&expires, "expires", "lifetime: 30d, 12h; never (the default) for none")
	return func(ctx context.Context, c *client.Client, _ []string) (view, error) {
		if *name == "" || len(prefixes) == 0 {
			return nil, errors.New("token create needs --name and at least one --prefix")
		}
		t, err := c.CreateToken(ctx, client.TokenOptions{Name: *name, Prefixes: prefixes, ReadOnly: *readOnly,
			TTL: time.Duration(expires)})
		if err != nil {
			return nil, err
		}
		return newTokenView(*t), nil
	}
}

// newTokenView prints a created token: its value once, then what it is.
type newTokenView client.NewToken

func (v newTokenView) table(w io.Writer) {
	row(w, "TOKEN", v.Token)
	row(w, "ID", v.ID)
	row(w, "NAME", v.Name)
	row(w, "ACCESS", v.Access)
	row(w, "PREFIXES", strings.Join(v.Prefixes, ","))
	row(w, "EXPIRES", optionalStamp(v.ExpiresAt, "never"))
}

func optionalStamp(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return stamp(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
