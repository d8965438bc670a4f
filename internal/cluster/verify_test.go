package cluster

import (
	"context"
	"errors"
	"testing"
	"time"
)

// gatedVerify is a VerifyLeader that reports each start and waits to be
// released with its answer.
type gatedVerify struct {
	started chan int
	release chan error
	calls   int // only the running round touches it: rounds never overlap
}

func newGatedVerify() *gatedVerify {
	return &gatedVerify{started: make(chan int, 16), release: make(chan error)}
}

func (g *gatedVerify) verify() error {
	g.calls++
	g.started <- g.calls
	return <-g.release
}

func waitRound(t *testing.T, g *gatedVerify, want int) {
	t.Helper()
	select {
	case n := <-g.started:
		if n != want {
			t.Fatalf("confirmation %d started, want %d", n, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("confirmation %d never started", want)
	}
}

func confirmAsync(c *leaderCheck, ctx context.Context) chan error {
	ch := make(chan error, 1)
	go func() { ch <- c.confirm(ctx) }()
	return ch
}

func result(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("confirm did not return")
		return nil
	}
}

func TestLeaderCheck(t *testing.T) {
	t.Run("LaterReadersShareTheNextRound", func(t *testing.T) {
		g := newGatedVerify()
		c := &leaderCheck{verify: g.verify}
		a := confirmAsync(c, context.Background())
		waitRound(t, g, 1)
		// b and c arrive while round 1 runs: it started before them, so
		// it cannot serve them; one more round serves both.
		b, cc := confirmAsync(c, context.Background()), confirmAsync(c, context.Background())
		for deadline := time.Now().Add(10 * time.Second); ; {
			c.mu.Lock()
			joined := c.next != nil && c.next.readers == 2
			c.mu.Unlock()
			if joined {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("b and c never joined the pending round")
			}
			time.Sleep(time.Millisecond) // b and c are on their way to the pending round
		}
		g.release <- nil
		if err := result(t, a); err != nil {
			t.Fatal(err)
		}
		waitRound(t, g, 2)
		g.release <- nil
		if err := firstErr(result(t, b), result(t, cc)); err != nil {
			t.Fatal(err)
		}
		if g.calls != 2 {
			t.Fatalf("%d confirmations for three readers, want 2", g.calls)
		}
	})
	t.Run("ErrorReachesEveryReader", func(t *testing.T) {
		g := newGatedVerify()
		c := &leaderCheck{verify: g.verify}
		a := confirmAsync(c, context.Background())
		waitRound(t, g, 1)
		lost := errors.New("leadership lost")
		g.release <- lost
		if err := result(t, a); !errors.Is(err, lost) {
			t.Fatalf("got %v, want %v", err, lost)
		}
	})
	t.Run("ContextEndsTheWait", func(t *testing.T) {
		g := newGatedVerify()
		c := &leaderCheck{verify: g.verify}
		ctx, cancel := context.WithCancel(context.Background())
		a := confirmAsync(c, ctx)
		waitRound(t, g, 1)
		cancel()
		if err := result(t, a); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		g.release <- nil // the round still ends; nobody is left waiting
	})
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
