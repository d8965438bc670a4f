package bench

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config describes one benchmark run. Zero values select the defaults noted
// on each field.
type Config struct {
	URL         string        // base URL, e.g. http://127.0.0.1:3000
	Token       string        // bearer token; empty sends no Authorization header
	Concurrency int           // workers, default 16
	Duration    time.Duration // measured window, default 10s
	Warmup      time.Duration // unmeasured warm-up before the window, default 1s; negative disables it
	TTL         time.Duration // lock TTL sent as ttl_seconds (rounded up to whole seconds), default 60s
	Prefix      string        // lock name prefix, default "bench/<random 6 hex>" so runs never collide
	// Wait, when positive, switches to the contended workload: every worker
	// is its own session and loops acquire (waiting up to Wait in the
	// lock's FIFO queue) then release on one shared name.
	Wait time.Duration
	// Limit (2..1000) switches to the semaphore workload: every worker
	// loops acquire of a slot of one name with this limit, waiting up to
	// Wait (default 10s) in its FIFO queue, then release. Every acquire is
	// a new slot, so the workers need no sessions.
	Limit int
	// Shared switches to the shared workload: every worker is its own
	// session (a holder of its own) and loops a shared acquire of one name
	// and its release; shared holders never wait for each other.
	Shared bool
	// TLS is used for https:// URLs; nil verifies the server against the
	// system's roots. (client.LoadTLS builds it from PEM files.)
	TLS *tls.Config
}

const (
	defaultConcurrency = 16
	defaultDuration    = 10 * time.Second
	defaultWarmup      = time.Second
	defaultTTL         = 60 * time.Second
	// defaultSlotWait is a semaphore worker's wait for a slot.
	defaultSlotWait = 10 * time.Second
	maxLimit        = 1000 // the server's MaxLimit
)

// normalized validates c and returns a copy with defaults filled in.
func (c Config) normalized() (Config, error) {
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	c.URL = strings.TrimRight(c.URL, "/")
	c.Concurrency = orDefault(c.Concurrency, defaultConcurrency)
	c.Duration = orDefault(c.Duration, defaultDuration)
	c.TTL = orDefault(c.TTL, defaultTTL)
	c.Warmup = orDefault(c.Warmup, defaultWarmup)
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Limit > 0 {
		c.Wait = orDefault(c.Wait, defaultSlotWait)
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
	if c.Prefix == "" {
		c.Prefix = randomPrefix()
	}
	return c, nil
}

func (c Config) validate() error {
	if err := validateURL(c.URL); err != nil {
		return err
	}
	switch {
	case c.Concurrency < 0:
		return fmt.Errorf("bench: concurrency must be >= 1, got %d", c.Concurrency)
	case c.Duration < 0:
		return fmt.Errorf("bench: duration must be > 0, got %s", c.Duration)
	case c.TTL < 0:
		return fmt.Errorf("bench: ttl must be > 0, got %s", c.TTL)
	case c.Wait < 0 || c.Wait > 300*time.Second:
		return fmt.Errorf("bench: wait must be between 0 and 5m, got %s", c.Wait)
	case c.Limit < 0 || c.Limit == 1 || c.Limit > maxLimit:
		return fmt.Errorf("bench: limit must be between 2 and %d (one slot is --wait's workload), got %d", maxLimit, c.Limit)
	case c.Shared && (c.Limit > 0 || c.Wait > 0):
		return errors.New("bench: shared takes no limit and no wait (shared holders never wait for each other)")
	}
	return nil
}

func validateURL(raw string) error {
	if raw == "" {
		return errors.New("bench: URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bench: invalid URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("bench: URL %q must use http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("bench: URL %q has no host", raw)
	}
	return nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// randomPrefix gives each run its own namespace, so a run never trips over
// locks a previous (possibly aborted) run left behind until their TTL.
func randomPrefix() string {
	var b [3]byte
	rand.Read(b[:]) // never fails since Go 1.24
	return "bench/" + hex.EncodeToString(b[:])
}

// ttlSeconds rounds up so a sub-second TTL never becomes the invalid 0.
func ttlSeconds(ttl time.Duration) int64 {
	return int64((ttl + time.Second - 1) / time.Second)
}
