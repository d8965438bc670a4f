package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/octostore/octostore/client"
)

const electHelp = `Usage: octostore elect NAME [flags] -- CMD [ARGS...]
       octostore elect observe NAME [--json]
  Campaign for the leadership of election NAME, waiting in FIFO order until
  elected (or up to --wait), run CMD in its own process group while leader,
  resign when CMD has exited, and exit with CMD's status. The leadership is
  renewed every TTL/3 by campaigning again, through a session of its own, so
  two elects with the same token are two candidates. When the leader stops
  renewing (it exited, was killed or cut off), the next candidate becomes
  leader once the leadership's lease has ended, in a higher term.

  CMD's environment has OCTOSTORE_ELECTION_NAME, OCTOSTORE_TERM (the
  leadership's term: its fencing token, higher than every earlier term's)
  and OCTOSTORE_LEADER_VALUE (--value).

  If the leadership can no longer be proven held, CMD's process group gets
  SIGTERM before its lease could end on the server, exactly as lock hold
  stops its command (see octostore lock hold -h: the same margin, --grace
  and signal forwarding).

  elect observe prints the election's leader, then each change of leader,
  term or value (or "vacant"), one line each, until interrupted.

Exit status:
  CMD's status (128+N if a signal N killed it)
  128+N  signal N (SIGINT, SIGTERM, SIGHUP) arrived while campaigning; CMD never ran
  64  bad usage
  69  the server is unavailable (unreachable, or 503 after retries)
  71  CMD could not be started
  73  another candidate is still leader after --wait
  75  the leadership was lost while CMD ran; CMD was sent SIGTERM
  77  unauthorized, forbidden, or a token file others can read
  1   any other error

Flags:
`

// electOptions are the flags of elect.
type electOptions struct {
	holdOptions        // ttl, wait (0: until elected) and grace
	value       string // the leader's value
}

func runElect(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "observe" && !slices.Contains(args, "--") {
		return runObserve(args[1:], stdout, stderr)
	}
	fs := newFlagSet("elect", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, electHelp)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+connHelp)
	}
	conn := addConnFlags(fs)
	var o electOptions
	fs.DurationVar(&o.ttl, "ttl", 30*time.Second, "leadership TTL, 3s to 1h (renewed every TTL/3)")
	fs.DurationVar(&o.wait, "wait", 0, "give up after this long (at most 5m) if another candidate still leads; 0 waits until elected")
	fs.DurationVar(&o.grace, "grace", 10*time.Second, "after SIGTERM, how long CMD may take to exit before SIGKILL")
	fs.StringVar(&o.value, "value", "", "the leader's value, shown to every reader (e.g. its address)")
	name, command, err := parseHold(fs, args, &o.holdOptions)
	if err != nil {
		return usageError(fs, err)
	}
	c, err := conn.client()
	if err != nil {
		return fail(stderr, err)
	}
	return elect(c, name, command, o, stdout, stderr)
}

// elect campaigns, runs the command while leader, and resigns.
func elect(c *client.Client, name string, command []string, o electOptions, stdout, stderr io.Writer) int {
	sigs := notifyStop()
	defer signal.Stop(sigs)
	var lead *client.Leadership
	h, code := acquireHolding("campaigning for "+name, sigs, stderr, c, name, o.ttl,
		func(ctx context.Context, sess *client.Session) (held, func(context.Context) error, error) {
			var err error
			lead, err = campaign(ctx, c.Election(name), client.CampaignOptions{TTL: o.ttl, SessionID: sess.ID(),
				Value: o.value, SafetyMargin: holdMargin(o.ttl)}, o.wait)
			if err != nil {
				return nil, nil, err
			}
			return lead, lead.Resign, nil
		})
	if h == nil {
		return code
	}
	return runHeld(h, command, []string{"OCTOSTORE_ELECTION_NAME=" + name,
		"OCTOSTORE_TERM=" + strconv.FormatUint(lead.Term(), 10), "OCTOSTORE_LEADER_VALUE=" + o.value},
		o.grace, sigs, stdout, stderr)
}

// campaign waits to be elected for up to wait (0: for as long as it
// takes), in campaigns of at most the server's longest wait.
func campaign(ctx context.Context, e *client.Election, o client.CampaignOptions, wait time.Duration) (*client.Leadership, error) {
	const longest = 5 * time.Minute
	end := time.Now().Add(wait)
	for {
		o.Wait = longest
		if wait > 0 {
			o.Wait = min(longest, time.Until(end))
		}
		lead, err := e.Campaign(ctx, o)
		if !errors.Is(err, client.ErrLockHeld) || wait > 0 && time.Until(end) <= 0 {
			return lead, err
		}
		// Refused before its wait ended (the server had no waiting slot free,
		// or the term changed hands): ask again, without spinning.
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

func runObserve(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("elect observe", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: octostore elect observe NAME [flags]\n  Print the election's leader, then each change of leader, term or value, until interrupted.\n\n"+
			connHelp+"\nFlags:\n")
		fs.PrintDefaults()
	}
	conn := addConnFlags(fs)
	asJSON := fs.Bool("json", false, "print each change as one line of JSON")
	rest, err := parseWithArgs(fs, args)
	if err == nil && len(rest) != 1 {
		err = fmt.Errorf("want one election NAME, got %d argument(s)", len(rest))
	}
	if err != nil {
		return usageError(fs, err)
	}
	c, err := conn.client()
	if err != nil {
		return fail(stderr, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = c.Election(rest[0]).Observe(ctx, func(s client.ElectionStatus) error { return printLeadership(stdout, s, *asJSON) })
	if ctx.Err() != nil {
		return 0
	}
	return fail(stderr, err)
}

// printLeadership prints one observed leadership as a line.
func printLeadership(w io.Writer, s client.ElectionStatus, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = w.Write(append(safeJSON(b), '\n'))
		return err
	}
	now := time.Now().Local().Format(time.RFC3339)
	if !s.Elected {
		row(w, now, s.Name, "vacant")
		return nil
	}
	row(w, now, s.Name, "leader="+s.Leader, "term="+strconv.FormatUint(s.Term, 10), "value="+s.Value, "since="+stamp(s.Since))
	return nil
}
