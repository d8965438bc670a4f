package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/octostore/octostore/client"
	"github.com/octostore/octostore/internal/server"
)

// exampleServer runs a throwaway server for the examples, with the static
// users alice and bob, and returns its URL and a stop function. Real
// programs point client.New at their deployment instead.
func exampleServer() (string, func()) {
	dir, err := os.MkdirTemp("", "octostore-example")
	if err != nil {
		panic(err)
	}
	srv, err := server.Start(context.Background(), server.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Skew: 300 * time.Millisecond,
		Tokens: "alice:alice-example-token-0123,bob:bob-example-token-0123",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	return "http://" + srv.Addr(), func() {
		srv.Shutdown(context.Background())
		os.RemoveAll(dir)
	}
}

func Example() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()

	c, err := client.New(url, "alice-example-token-0123") // or os.Getenv("OCTOSTORE_TOKEN")
	if err != nil {
		panic(err)
	}
	lock, err := c.Acquire(ctx, "jobs/nightly-report", client.AcquireOptions{TTL: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	fmt.Println(lock.Status, lock.Name, "by", lock.Holder, "token", lock.FencingToken)

	bob, _ := client.New(url, "bob-example-token-0123")
	_, err = bob.Acquire(ctx, "jobs/nightly-report", client.AcquireOptions{TTL: 30 * time.Second})
	if held, ok := client.HeldBy(err); errors.Is(err, client.ErrLockHeld) && ok {
		fmt.Println("bob: held by", held.Holder)
	}

	if err := c.Release(ctx, lock.Name, lock.LeaseID); err != nil {
		panic(err)
	}
	st, _ := c.Get(ctx, "jobs/nightly-report", client.GetOptions{})
	fmt.Println("after release:", st.Status)
	// Output:
	// acquired jobs/nightly-report by alice token 1
	// bob: held by alice
	// after release: available
}

// Hold keeps a lock renewed while the work runs; the work watches the
// lease's Context, which ends the moment the lease cannot be proven held.
func ExampleClient_Hold() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url, "alice-example-token-0123")

	lease, err := c.Hold(ctx, "deploy/prod", client.LeaseOptions{TTL: 10 * time.Second, Wait: time.Minute})
	if err != nil {
		panic(err)
	}
	work := func(ctx context.Context) error {
		select {
		case <-ctx.Done(): // lost: stop touching what the lock protects
			return context.Cause(ctx)
		case <-time.After(10 * time.Millisecond): // the deploy
			return nil
		}
	}
	fmt.Println("work:", work(lease.Context()))
	fmt.Println("release:", lease.Release(ctx))
	fmt.Println("context:", context.Cause(lease.Context()))
	// Output:
	// work: <nil>
	// release: <nil>
	// context: released
}

// fencedStore is a downstream resource that protects itself from a
// holder that lost its lock without knowing (a GC pause, a partition): it
// refuses any write carrying a fencing token lower than one it has seen.
type fencedStore struct {
	mu      sync.Mutex
	highest uint64
	value   string
}

var errStaleToken = errors.New("stale fencing token")

func (s *fencedStore) Write(token uint64, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if token < s.highest {
		return fmt.Errorf("%w: %d < %d", errStaleToken, token, s.highest)
	}
	s.highest, s.value = token, value
	return nil
}

// Fenced writes: the lock alone cannot stop a holder that paused past its
// expiry from writing afterwards; the fencing token can, if the resource
// checks it.
func ExampleLease_fencedWrite() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	alice, _ := client.New(url, "alice-example-token-0123")
	bob, _ := client.New(url, "bob-example-token-0123")
	store := &fencedStore{}

	first, _ := alice.Hold(ctx, "db/schema", client.LeaseOptions{TTL: 10 * time.Second})
	fmt.Println("alice writes:", store.Write(first.FencingToken(), "v1"))
	// Alice stalls; meanwhile her lease ends (simulated here by releasing
	// it) and Bob takes the lock with a higher token.
	staleToken := first.FencingToken()
	first.Release(ctx)
	second, _ := bob.Hold(ctx, "db/schema", client.LeaseOptions{TTL: 10 * time.Second})
	fmt.Println("bob writes:", store.Write(second.FencingToken(), "v2"))
	// Alice wakes up and writes with her old token: refused.
	fmt.Println("alice writes late:", store.Write(staleToken, "v1-late"))
	fmt.Println("value:", store.value)
	second.Release(ctx)
	// Output:
	// alice writes: <nil>
	// bob writes: <nil>
	// alice writes late: stale fencing token: 1 < 2
	// value: v2
}

// A Session groups locks that end together; StartSession keeps it alive.
func ExampleClient_StartSession() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url, "alice-example-token-0123")

	s, err := c.StartSession(ctx, client.SessionOptions{TTL: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	if _, err := c.Acquire(ctx, "workers/7", client.AcquireOptions{TTL: time.Minute, SessionID: s.ID()}); err != nil {
		panic(err)
	}
	fmt.Println("close:", s.Close(ctx)) // releases workers/7
	st, _ := c.Get(ctx, "workers/7", client.GetOptions{})
	fmt.Println("workers/7:", st.Status)
	// Output:
	// close: <nil>
	// workers/7: available
}

// Events streams what happens to locks under a prefix; LastID resumes a
// broken stream without gaps.
func ExampleClient_Events() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url, "alice-example-token-0123")

	stream, err := c.Events(ctx, client.EventsOptions{Prefix: "deploy/"})
	if err != nil {
		panic(err)
	}
	defer stream.Close()
	lock, _ := c.Acquire(ctx, "deploy/prod", client.AcquireOptions{TTL: time.Minute})
	c.Release(ctx, lock.Name, lock.LeaseID)
	for range 2 {
		e, err := stream.Next()
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Type, e.Lock, "token", e.FencingToken)
	}
	// Output:
	// acquired deploy/prod token 1
	// released deploy/prod token 1
}

// ExampleWithTLS connects to a server whose certificate comes from a
// private CA and that requires a client certificate. (It needs such a
// server, so it is compiled but not run.)
func ExampleWithTLS() {
	tc, err := client.LoadTLS(client.TLSFiles{CAFile: "ca.crt", CertFile: "client.crt", KeyFile: "client.key"})
	if err != nil {
		fmt.Println(err) // a missing or unreadable file, a key that does not match
		return
	}
	c, err := client.New("https://locks.example.com", os.Getenv("OCTOSTORE_TOKEN"), client.WithTLS(tc))
	if err != nil {
		fmt.Println(err)
		return
	}
	locks, err := c.ListAll(context.Background(), "deploy/")
	fmt.Println(len(locks), err)
}

// A leader does its work under its leadership's Context, which ends
// before the leadership could lapse; others read or observe the election.
func ExampleElection_Campaign() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := client.New(url, "alice-example-token-0123")

	lead, err := c.Election("svc/scheduler").Campaign(ctx, client.CampaignOptions{TTL: 10 * time.Second,
		Wait: time.Minute, Value: "10.0.0.1:7000"})
	if err != nil {
		panic(err)
	}
	fmt.Println("leader of term", lead.Term(), "working:", lead.Context().Err() == nil)
	st, _ := c.Election("svc/scheduler").Leader(ctx, client.GetOptions{})
	fmt.Println("read:", st.Leader, st.Value)
	fmt.Println("resign:", lead.Resign(ctx))
	st, _ = c.Election("svc/scheduler").Leader(ctx, client.GetOptions{})
	fmt.Println("after:", st.Status)
	// Output:
	// leader of term 1 working: true
	// read: alice 10.0.0.1:7000
	// resign: <nil>
	// after: vacant
}
