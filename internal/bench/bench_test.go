package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

func shortConfig(url string) Config {
	return Config{
		URL:         url,
		Token:       fakeToken,
		Concurrency: 4,
		Warmup:      50 * time.Millisecond,
		Duration:    300 * time.Millisecond,
		Prefix:      "bench-test",
	}
}

func TestRunHealthyServer(t *testing.T) {
	fake := &fakeLockServer{}
	cfg := shortConfig(startFakeServer(t, fake))
	report, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	held, _, names, bad := fake.snapshot()
	if bad != "" {
		t.Fatalf("fake server rejected a request: %s", bad)
	}
	if report.Cycles <= 0 || report.CyclesPerSec <= 0 {
		t.Fatalf("expected cycles, got %+v", report)
	}
	if report.Errors != 0 || report.FirstError != "" || report.Acquire.Errors != 0 || report.Release.Errors != 0 {
		t.Fatalf("expected no errors, got %+v", report)
	}
	if report.Acquire.Count != report.Cycles || report.Release.Count != report.Cycles {
		t.Fatalf("op counts %d/%d do not match cycles %d", report.Acquire.Count, report.Release.Count, report.Cycles)
	}
	assertOrdered(t, "acquire", report.Acquire)
	assertOrdered(t, "release", report.Release)
	if held != 0 {
		t.Errorf("%d locks left held after the run", held)
	}
	if report.Duration != cfg.Duration || report.Concurrency != cfg.Concurrency {
		t.Errorf("report header = %d workers / %s, want %d / %s", report.Concurrency, report.Duration, cfg.Concurrency, cfg.Duration)
	}
	assertNamesArrivedWhole(t, names)
	if conns := fake.newConns.Load(); conns > int64(cfg.Concurrency) {
		t.Errorf("opened %d connections for %d workers; keep-alive is not being reused", conns, cfg.Concurrency)
	}
}

// TestRunOverTLS: with the server's CA in Config.TLS the run works over
// HTTPS and still keeps one connection (one handshake) per worker;
// without it no cycle succeeds.
func TestRunOverTLS(t *testing.T) {
	fake := &fakeLockServer{useTLS: true}
	cfg := shortConfig(startFakeServer(t, fake))
	cfg.TLS = &tls.Config{RootCAs: fake.roots}
	report, err := Run(context.Background(), cfg)
	if err != nil || report.Cycles == 0 || report.Errors != 0 {
		t.Fatalf("over TLS: %+v %v", report, err)
	}
	if conns := fake.newConns.Load(); conns > int64(cfg.Concurrency) {
		t.Errorf("opened %d connections for %d workers: a handshake per request would be measured", conns, cfg.Concurrency)
	}
	cfg.TLS = nil // the system's roots do not know httptest's certificate
	cfg.Warmup = -1
	report, _ = Run(context.Background(), cfg)
	if report.Cycles != 0 || report.Errors == 0 || !strings.Contains(report.FirstError, "certificate") {
		t.Fatalf("an untrusted server: %+v", report)
	}
}

func assertOrdered(t *testing.T, op string, s OpStats) {
	t.Helper()
	if !(0 < s.P50 && s.P50 <= s.P99 && s.P99 <= s.P999 && s.P999 <= s.Max) {
		t.Errorf("%s percentiles out of order: %+v", op, s)
	}
}

// assertNamesArrivedWhole checks that the escaped hierarchical names reach
// the server as one {name} segment, decoded back to <prefix>/w<i>/<n>.
func assertNamesArrivedWhole(t *testing.T, names map[string]bool) {
	t.Helper()
	pattern := regexp.MustCompile(`^bench-test/w[0-3]/[0-9]+$`)
	for name := range names {
		if !pattern.MatchString(name) {
			t.Fatalf("server saw lock name %q", name)
		}
	}
}

func TestRunCountsServerErrors(t *testing.T) {
	fake := &fakeLockServer{failEvery: 5}
	report, err := Run(context.Background(), shortConfig(startFakeServer(t, fake)))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if report.Errors == 0 || report.Acquire.Errors == 0 {
		t.Fatalf("expected counted errors, got %+v", report)
	}
	if !strings.Contains(report.FirstError, "HTTP 500") {
		t.Fatalf("FirstError = %q, want the HTTP 500", report.FirstError)
	}
	if report.Cycles == 0 {
		t.Fatalf("4 of 5 acquires succeed, yet no cycles counted: %+v", report)
	}
	if report.Errors != report.Acquire.Errors {
		t.Errorf("cycle errors %d != acquire errors %d", report.Errors, report.Acquire.Errors)
	}
}

func TestRunReportsFencingTokenRegression(t *testing.T) {
	fake := &fakeLockServer{tokenStep: -1}
	report, err := Run(context.Background(), shortConfig(startFakeServer(t, fake)))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if report.Errors == 0 || !strings.Contains(report.FirstError, "fencing token regressed") {
		t.Fatalf("regression not reported: errors=%d first=%q", report.Errors, report.FirstError)
	}
	if held, _, _, _ := fake.snapshot(); held != 0 {
		t.Errorf("%d locks left held; regressed leases must still be released", held)
	}
}

func TestRunReportsBadToken(t *testing.T) {
	cfg := shortConfig(startFakeServer(t, &fakeLockServer{}))
	cfg.Token = "wrong"
	cfg.Warmup = -1
	report, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if report.Cycles != 0 || report.Errors == 0 || !strings.Contains(report.FirstError, "HTTP 401") {
		t.Fatalf("expected every cycle to fail with 401, got %+v", report)
	}
}

func TestRunStopsWhenContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fake := &fakeLockServer{onAcquire: func(n int64) {
		if n == 50 {
			cancel()
		}
	}}
	cfg := shortConfig(startFakeServer(t, fake))
	cfg.Warmup, cfg.Duration = -1, time.Hour
	report, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if report.Errors != 0 {
		t.Errorf("cancellation must not be counted as server errors: %+v", report)
	}
	if report.Cycles == 0 || report.Duration <= 0 || report.Duration >= time.Hour {
		t.Errorf("expected a partial report, got %+v", report)
	}
}

func TestConfigValidation(t *testing.T) {
	base := Config{URL: "http://127.0.0.1:1"}
	cases := map[string]func(*Config){
		"empty URL":            func(c *Config) { c.URL = "" },
		"unparsable URL":       func(c *Config) { c.URL = "http://[::1" },
		"non-http scheme":      func(c *Config) { c.URL = "ftp://127.0.0.1" },
		"missing host":         func(c *Config) { c.URL = "http://" },
		"negative concurrency": func(c *Config) { c.Concurrency = -1 },
		"negative duration":    func(c *Config) { c.Duration = -time.Second },
		"negative ttl":         func(c *Config) { c.TTL = -time.Second },
		"limit of one":         func(c *Config) { c.Limit = 1 },
		"limit above 1000":     func(c *Config) { c.Limit = 1001 },
		"negative limit":       func(c *Config) { c.Limit = -2 },
		"shared with a limit":  func(c *Config) { c.Shared, c.Limit = true, 4 },
		"shared with a wait":   func(c *Config) { c.Shared, c.Wait = true, time.Second },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := base
			mutate(&cfg)
			if _, err := Run(context.Background(), cfg); err == nil {
				t.Fatal("expected a validation error")
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{URL: "http://127.0.0.1:3000/"}.normalized()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Concurrency != 16 || cfg.Duration != 10*time.Second || cfg.Warmup != time.Second || cfg.TTL != 60*time.Second {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if cfg.URL != "http://127.0.0.1:3000" {
		t.Errorf("trailing slash kept: %q", cfg.URL)
	}
	if !regexp.MustCompile(`^bench/[0-9a-f]{6}$`).MatchString(cfg.Prefix) {
		t.Errorf("default prefix = %q", cfg.Prefix)
	}
	if cfg, _ := (Config{URL: "http://127.0.0.1:3000", Limit: 16}).normalized(); cfg.Wait != 10*time.Second {
		t.Errorf("a semaphore's default wait = %s, want 10s", cfg.Wait)
	}
	if got := ttlSeconds(1500 * time.Millisecond); got != 2 {
		t.Errorf("ttlSeconds(1.5s) = %d, want 2", got)
	}
}

func TestTransportKeepsAConnectionPerWorker(t *testing.T) {
	tr := newTransport(64, nil)
	if tr.MaxIdleConnsPerHost < 64 || tr.MaxIdleConns < 64 {
		t.Errorf("idle pool too small: %d per host, %d total", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
}

func TestSummarizeExactPercentiles(t *testing.T) {
	samples := make([]time.Duration, 1000)
	for i := range samples {
		samples[i] = time.Duration(i+1) * time.Millisecond
	}
	rand.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	half := len(samples) / 2
	got := summarize([]*opRecorder{
		{latencies: samples[:half], errors: 2},
		{latencies: samples[half:], errors: 1},
	})
	want := OpStats{Count: 1000, Errors: 3, P50: 500 * time.Millisecond, P99: 990 * time.Millisecond,
		P999: 999 * time.Millisecond, Max: 1000 * time.Millisecond}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if empty := summarize([]*opRecorder{{errors: 4}}); empty != (OpStats{Errors: 4}) {
		t.Errorf("summarize(no samples) = %+v", empty)
	}
}

func TestReportWriters(t *testing.T) {
	report := Report{Concurrency: 8, Duration: 2 * time.Second, Cycles: 1000, CyclesPerSec: 500,
		Acquire:    OpStats{Count: 1000, P50: time.Millisecond, P99: 2 * time.Millisecond, P999: 3 * time.Millisecond, Max: 4 * time.Millisecond},
		Release:    OpStats{Count: 1000, Errors: 1},
		Errors:     1,
		FirstError: "release x: HTTP 500: boom"}

	var text bytes.Buffer
	if err := report.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"500.0/s", "acquire", "release", "p99.9 ms", "1.000", "HTTP 500: boom"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}

	var js bytes.Buffer
	if err := report.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded Report
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || decoded != report {
		t.Errorf("JSON round trip = %+v (%v), want %+v\n%s", decoded, err, report, js.String())
	}
}

// TestReportExplainsRateLimits: a run the server throttled says how to
// start a server for benchmarking, instead of a bare count of errors.
func TestReportExplainsRateLimits(t *testing.T) {
	for first, want := range map[string]bool{"acquire x: HTTP 429: {\"code\":\"rate_limited\"}": true, "release x: HTTP 500: boom": false} {
		var text bytes.Buffer
		if err := (Report{Errors: 1, FirstError: first}).WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(text.String(), "OCTOSTORE_RATE_LIMIT=0"); got != want {
			t.Errorf("first error %q: hint shown %v, want %v\n%s", first, got, want, text.String())
		}
	}
}

// TestRunSemaphore: with Limit every worker takes slots of one name with
// that limit, waiting for a free one; the workers contend (the limit is
// reached) but never exceed it, and every slot is released.
func TestRunSemaphore(t *testing.T) {
	fake := &fakeLockServer{}
	cfg := shortConfig(startFakeServer(t, fake))
	cfg.Concurrency, cfg.Limit, cfg.Wait = 8, 3, 2*time.Second
	report, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	held, _, names, bad := fake.snapshot()
	if bad != "" {
		t.Fatalf("fake server rejected a request: %s", bad)
	}
	if report.Cycles <= 0 || report.Errors != 0 || report.FirstError != "" || report.Violations != 0 || report.Limit != 3 {
		t.Fatalf("report: %+v", report)
	}
	if len(names) != 1 || !names["bench-test/semaphore"] {
		t.Fatalf("names used: %v", names)
	}
	fake.mu.Lock()
	most, sessions := fake.maxHolders, fake.sessions
	fake.mu.Unlock()
	if most != 3 || held != 0 || sessions != 0 {
		t.Fatalf("at most %d holders at once (want the limit, 3), %d left held, %d sessions", most, held, sessions)
	}
	var out bytes.Buffer
	report.WriteText(&out)
	if !strings.Contains(out.String(), "one name, 3 slots, FIFO waits; 0 over-limit violations") {
		t.Fatalf("text report:\n%s", out.String())
	}
}

// TestRunShared: with Shared every worker is a shared holder of one name
// in a session of its own, so no acquire extends another worker's hold.
func TestRunShared(t *testing.T) {
	fake := &fakeLockServer{}
	cfg := shortConfig(startFakeServer(t, fake))
	cfg.Concurrency, cfg.Shared = 8, true
	report, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	held, _, names, bad := fake.snapshot()
	if bad != "" {
		t.Fatalf("fake server rejected a request: %s", bad)
	}
	if report.Cycles <= 0 || report.Errors != 0 || report.FirstError != "" || !report.Shared {
		t.Fatalf("report: %+v", report)
	}
	if len(names) != 1 || !names["bench-test/shared"] {
		t.Fatalf("names used: %v", names)
	}
	fake.mu.Lock()
	most, seen, extends := fake.maxHolders, len(fake.sessionsSeen), fake.extends
	fake.mu.Unlock()
	if seen != 8 || extends != 0 || most < 2 || most > 8 || held != 0 {
		t.Fatalf("%d sessions acquired, %d extends, at most %d holders at once, %d left held", seen, extends, most, held)
	}
}

func TestSlotCheck(t *testing.T) {
	c := &slotCheck{name: "s", limit: 2}
	if c.enter(0) != nil || c.enter(1) != nil {
		t.Fatal("two holders of two slots refused")
	}
	if err := c.enter(2); err == nil || c.violations.Load() != 1 {
		t.Fatalf("a third holder of two slots: %v, %d violations", err, c.violations.Load())
	}
	c.leave()
	c.leave()
	if c.enter(3) != nil {
		t.Fatal("a holder after two left refused")
	}
}
