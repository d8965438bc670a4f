package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/state"
)

const holdHelp = `Usage: octostore lock hold NAME [flags] -- CMD [ARGS...]
  Acquire the lock NAME (waiting up to --wait for it), run CMD in its own
  process group while the lease is renewed every TTL/3, release the lock when
  CMD has exited, and exit with CMD's status. The lock is held through a
  session of its own (kept alive alongside), so two holds with the same token
  exclude each other. With --limit N it holds one of N slots of a counting
  semaphore (up to N holds run at once); with --shared it holds a read/write
  lock as a reader (shared holds run together, never with an exclusive one).

  CMD's environment has OCTOSTORE_LOCK_NAME, OCTOSTORE_FENCING_TOKEN and
  OCTOSTORE_LEASE_EXPIRES_AT (the grant's expiry, RFC 3339; renewals move it).

  If the lease can no longer be proven held (a renewal or keepalive was
  refused, or none succeeded in time), CMD's process group gets SIGTERM at the local deadline:
  max(1s, TTL/10) before the earliest moment the server may expire the lease,
  measured on the monotonic clock from before the last successful acquire or
  renew was sent. SIGKILL follows after --grace, but never later than that
  earliest expiry: when the lease is lost the grace is cut to the margin.
  SIGINT, SIGTERM or SIGHUP to octostore is forwarded to CMD's group as
  SIGTERM (SIGKILL after --grace, or at once on a second signal); the lock is
  released once CMD has exited. Whatever CMD leaves running in its process
  group is killed before the lock is released. If octostore itself is
  killed (kill -9), CMD gets SIGKILL from the kernel (Linux). CMD is not in
  the terminal's foreground group, so it cannot read the terminal.

Exit status:
  CMD's status (128+N if a signal N killed it)
  128+N  signal N (SIGINT, SIGTERM, SIGHUP) arrived while acquiring; CMD never ran
  64  bad usage
  69  the server is unavailable (unreachable, or 503 after retries)
  71  CMD could not be started
  73  the lock is held by someone else (still, after --wait)
  75  the lease was lost while CMD ran; CMD was sent SIGTERM
  77  unauthorized, forbidden, or a token file others can read
  1   any other error

Flags:
`

// holdOptions are the flags of lock hold.
type holdOptions struct {
	ttl, wait, grace time.Duration
	metadata         string
	limit            int
	shared           bool
}

func runHold(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("lock hold", stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, holdHelp)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+connHelp)
	}
	conn := addConnFlags(fs)
	var o holdOptions
	fs.DurationVar(&o.ttl, "ttl", 30*time.Second, "lease TTL, 3s to 1h (renewed every TTL/3)")
	fs.DurationVar(&o.wait, "wait", 0, "wait up to this long (at most 5m) for a held lock; 0 fails at once")
	fs.DurationVar(&o.grace, "grace", 10*time.Second, "after SIGTERM, how long CMD may take to exit before SIGKILL")
	fs.StringVar(&o.metadata, "metadata", "", "text stored with the lock")
	fs.IntVar(&o.limit, "limit", 0, "hold one slot of a counting semaphore of this many (2 to 1000); every holder must give the same")
	fs.BoolVar(&o.shared, "shared", false, "hold a read/write lock as a reader (holds without it are the writer)")
	name, command, err := parseHold(fs, args, &o)
	if err == nil {
		err = checkShape(o.limit, o.shared)
	}
	if err != nil {
		return usageError(fs, err)
	}
	c, err := conn.client()
	if err != nil {
		return fail(stderr, err)
	}
	return hold(c, name, command, o, stdout, stderr)
}

// parseHold splits "NAME [flags] -- CMD ARGS" and checks the flags.
func parseHold(fs *flag.FlagSet, args []string, o *holdOptions) (string, []string, error) {
	i := slices.Index(args, "--")
	if i < 0 {
		if _, err := parseWithArgs(fs, args); err != nil {
			return "", nil, err // -h, or a bad flag
		}
		return "", nil, errors.New("missing -- before the command to run")
	}
	rest, err := parseWithArgs(fs, args[:i])
	command := args[i+1:]
	switch {
	case err != nil:
		return "", nil, err
	case len(rest) != 1:
		return "", nil, fmt.Errorf("want one NAME before --, got %d", len(rest))
	case len(command) == 0:
		return "", nil, errors.New("no command after --")
	case o.ttl < 3*time.Second || o.ttl > time.Hour:
		return "", nil, fmt.Errorf("--ttl %v: must be between 3s and 1h", o.ttl)
	case o.wait < 0 || o.wait > 5*time.Minute:
		return "", nil, fmt.Errorf("--wait %v: must be between 0 and 5m", o.wait)
	case o.grace < 0:
		return "", nil, fmt.Errorf("--grace %v: must not be negative", o.grace)
	}
	return rest[0], command, nil
}

// checkShape checks --limit and --shared.
func checkShape(limit int, shared bool) error {
	switch {
	case limit < 0 || limit > state.MaxLimit:
		return fmt.Errorf("--limit %d: must be between 1 and %d", limit, state.MaxLimit)
	case shared && limit > 1:
		return errors.New("--shared takes no --limit above 1: a read/write lock has one exclusive slot")
	}
	return nil
}

// mode is the acquire's mode for --shared.
func mode(shared bool) client.Mode {
	if shared {
		return client.Shared
	}
	return ""
}

// holdMargin is how long before the earliest server expiry the command is
// sent SIGTERM.
func holdMargin(ttl time.Duration) time.Duration { return max(time.Second, ttl/10) }

// sessionTTL is the TTL of the session each hold acquires through: the
// lease's, within the server's 10s..300s.
func sessionTTL(ttl time.Duration) time.Duration {
	return min(max(ttl, 10*time.Second), 300*time.Second)
}

// hold acquires, runs the command under the lease, and releases.
func hold(c *client.Client, name string, command []string, o holdOptions, stdout, stderr io.Writer) int {
	sigs := notifyStop()
	defer signal.Stop(sigs)
	var lease *client.Lease
	h, code := acquireHolding("acquiring "+name, sigs, stderr, c, name, o.ttl,
		func(ctx context.Context, sess *client.Session) (held, func(context.Context) error, error) {
			var err error
			lease, err = sess.Hold(ctx, name, client.LeaseOptions{TTL: o.ttl, Wait: o.wait, Metadata: o.metadata,
				Limit: o.limit, Mode: mode(o.shared), SafetyMargin: holdMargin(o.ttl)})
			if err != nil {
				return nil, nil, err
			}
			return lease, lease.Release, nil
		})
	if h == nil {
		return code
	}
	return runHeld(h, command, []string{"OCTOSTORE_LOCK_NAME=" + name,
		"OCTOSTORE_FENCING_TOKEN=" + strconv.FormatUint(lease.FencingToken(), 10),
		"OCTOSTORE_LEASE_EXPIRES_AT=" + lease.Lock().ExpiresAt.Format(time.RFC3339Nano)}, o.grace, sigs, stdout, stderr)
}

// notifyStop relays SIGINT, SIGTERM and SIGHUP; signal.Stop it when done.
func notifyStop() chan os.Signal {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	return sigs
}

// runHeld runs the command with env added while h is held, supervised,
// and gives h back once it has exited.
func runHeld(h *holding, command, env []string, grace time.Duration, sigs <-chan os.Signal, stdout, stderr io.Writer) int {
	defer h.release(stderr)
	runtime.LockOSThread() // the command's parent thread, for commandAttr's Pdeathsig
	defer runtime.UnlockOSThread()
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.SysProcAttr = commandAttr()
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "octostore: could not start the command:", err)
		return exitOSErr
	}
	return supervise(cmd, h, sigs, grace, stderr)
}

// held is what a hold keeps alive: a lock's lease or an election's
// leadership.
type held interface {
	Context() context.Context // cancelled when it is lost (or given back)
	Expiry() time.Time        // the earliest moment the server may end it
}

// holding is a lease or leadership held through a session of its own:
// the server's holder of a lock is the user, or the session, so a session
// per hold is what makes two holds with one token exclude each other.
type holding struct {
	sess   *client.Session
	held   held
	name   string
	giveUp func(context.Context) error // release the lock, or resign
	lost   context.Context             // cancelled when either is lost
	cancel context.CancelCauseFunc
}

func newHolding(sess *client.Session, name string, h held, giveUp func(context.Context) error) *holding {
	hg := &holding{sess: sess, held: h, name: name, giveUp: giveUp}
	hg.lost, hg.cancel = context.WithCancelCause(context.Background())
	for _, ctx := range []context.Context{sess.Context(), h.Context()} {
		context.AfterFunc(ctx, func() { hg.cancel(context.Cause(ctx)) })
	}
	return hg
}

// expiry is the earliest moment the server may free the lock.
func (h *holding) expiry() time.Time { return earliest(h.held.Expiry(), h.sess.Expiry()) }

// release gives the lock (or leadership) and the session back, saying so
// if it cannot.
func (h *holding) release(stderr io.Writer) {
	timeout := 10 * time.Second
	if h.lost.Err() != nil {
		timeout = 2 * time.Second // lost: a courtesy, likely to fail
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := errors.Join(h.giveUp(ctx), h.sess.Close(ctx))
	if err != nil {
		fmt.Fprintf(stderr, "octostore: could not release %s (it expires by itself): %s\n", h.name, safeText(err.Error()))
	}
}

// acquireHolding starts a session on c for a hold of name for ttl and
// has take take what is held with it (startHolding); a signal meanwhile
// gives up. On failure it returns nil and the exit code; doing says what
// was interrupted.
func acquireHolding(doing string, sigs <-chan os.Signal, stderr io.Writer, c *client.Client, name string, ttl time.Duration,
	take func(context.Context, *client.Session) (held, func(context.Context) error, error)) (*holding, int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		h   *holding
		err error
	}
	got := make(chan result, 1)
	go func() {
		h, err := startHolding(ctx, c, name, ttl, take)
		got <- result{h, err}
	}()
	select {
	case r := <-got:
		if r.err != nil {
			return nil, fail(stderr, r.err)
		}
		return r.h, 0
	case sig := <-sigs:
		cancel()
		if r := <-got; r.h != nil {
			r.h.release(stderr)
		}
		fmt.Fprintf(stderr, "octostore: %v while %s\n", sig, doing)
		return nil, 128 + int(sig.(syscall.Signal))
	}
}

// startHolding starts a session for a hold of ttl and has take take what
// is held with it, and say how to give it back.
func startHolding(ctx context.Context, c *client.Client, name string, ttl time.Duration,
	take func(context.Context, *client.Session) (held, func(context.Context) error, error)) (*holding, error) {
	sttl := sessionTTL(ttl)
	sess, err := c.StartSession(ctx, client.SessionOptions{TTL: sttl, SafetyMargin: holdMargin(sttl)})
	if err != nil {
		return nil, err
	}
	h, giveUp, err := take(ctx, sess)
	if err != nil {
		return nil, errors.Join(err, sess.Close(context.WithoutCancel(ctx)))
	}
	return newHolding(sess, name, h, giveUp), nil
}

// supervise waits for the command, stopping it if the lease is lost or
// octostore is told to stop, and returns the exit code.
func supervise(cmd *exec.Cmd, h *holding, sigs <-chan os.Signal, grace time.Duration, stderr io.Writer) int {
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pgid := cmd.Process.Pid
	defer signalGroup(pgid, syscall.SIGKILL) // what the command left behind in its group
	select {
	case err := <-exited:
		return childStatus(err)
	case <-h.lost.Done():
		signalGroup(pgid, syscall.SIGTERM)
		fmt.Fprintf(stderr, "octostore: %s: %s; sent SIGTERM to the command\n", h.name, safeText(context.Cause(h.lost).Error()))
		reap(exited, pgid, earliest(time.Now().Add(grace), h.expiry()), nil, sigs, h)
		return exitLeaseLost
	case sig := <-sigs:
		fmt.Fprintf(stderr, "octostore: %v: sending SIGTERM to the command\n", sig)
		signalGroup(pgid, syscall.SIGTERM)
		return childStatus(reap(exited, pgid, time.Now().Add(grace), h.lost.Done(), sigs, h))
	}
}

// reap waits for the command to exit after SIGTERM, sending SIGKILL at
// killAt, at once on another signal, and no later than the lock's
// earliest expiry once lost is closed.
func reap(exited <-chan error, pgid int, killAt time.Time, lost <-chan struct{}, sigs <-chan os.Signal, h *holding) error {
	for {
		t := time.NewTimer(time.Until(killAt))
		select {
		case err := <-exited:
			t.Stop()
			return err
		case <-t.C:
			signalGroup(pgid, syscall.SIGKILL)
			return <-exited
		case <-sigs:
			t.Stop()
			signalGroup(pgid, syscall.SIGKILL)
			return <-exited
		case <-lost:
			t.Stop()
			killAt, lost = earliest(killAt, h.expiry()), nil
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func signalGroup(pgid int, sig syscall.Signal) { syscall.Kill(-pgid, sig) }

// childStatus is the command's exit status as a shell reports it.
func childStatus(err error) int {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
