package main

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
)

func TestServe_SIGTERMShutsDownGracefully(t *testing.T) {
	p := startServe(t, tokensEnv, "--data-dir", t.TempDir())
	c := apitest.New(t, p.Addr)
	c.Do("POST", "/locks/x/acquire", token, map[string]any{"ttl_seconds": 60})
	p.Signal(syscall.SIGTERM)
	if err := p.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.Log())
	}
	if !strings.Contains(p.Log(), `"msg":"stopped"`) {
		t.Fatalf("no orderly stop in the log:\n%s", p.Log())
	}
}

// TestServe_SideBySide: two servers with only --listen and --data-dir
// differing run on one machine (no fixed second port).
func TestServe_SideBySide(t *testing.T) {
	a := startServe(t, tokensEnv, "--data-dir", t.TempDir())
	b := startServe(t, tokensEnv, "--data-dir", t.TempDir())
	for _, p := range []*proc{a, b} {
		r := apitest.New(t, p.Addr).Do("POST", "/locks/same-name/acquire", token, map[string]any{"ttl_seconds": 60})
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", p.Addr, r.Status, r.Body)
		}
	}
}

// TestServe_FirstStartAdmin: with no identity source the first start
// prints an admin token once; only its hash reaches the disk, and it
// still works after a restart, which prints no new token.
func TestServe_FirstStartAdmin(t *testing.T) {
	dir := t.TempDir()
	p := startServe(t, nil, "--data-dir", dir)
	m := regexp.MustCompile(`Authorization: Bearer (octo_[A-Za-z0-9_-]+)`).FindStringSubmatch(p.Log())
	if m == nil {
		t.Fatalf("no admin token printed:\n%s", p.Log())
	}
	admin := m[1]
	r := apitest.New(t, p.Addr).Do("POST", "/locks/first/acquire", admin, map[string]any{"ttl_seconds": 60})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"holder":"admin"`) {
		t.Fatalf("admin acquire: %d %s", r.Status, r.Body)
	}
	p.Signal(syscall.SIGTERM)
	p.Wait()
	if apitest.DirContains(t, dir, admin) {
		t.Fatal("the raw admin token is stored in the data dir")
	}
	p = startServe(t, nil, "--data-dir", dir)
	if strings.Contains(p.Log(), "octo_") {
		t.Fatalf("a token was printed again on restart:\n%s", p.Log())
	}
	if r := apitest.New(t, p.Addr).Do("GET", "/locks/first", admin, nil); r.Status != http.StatusOK {
		t.Fatalf("admin token after restart: %d", r.Status)
	}
}

func TestServe_BadUsage(t *testing.T) {
	for _, args := range [][]string{{"serve", "--nope"}, {"serve", "extra"}, {"serve", "--log-level", "loud"},
		{"serve", "--log-format", "xml"}, {"serve", "--rate-limit", "-1"}, {"serve", "--max-locks-per-user", "-5"},
		{"serve", "--max-in-flight", "many"}, {"serve", "--max-in-flight-per-user", "-1"}, {"serve", "--body-timeout", "0s"},
		{"serve", "--body-timeout", "1h"}, {"frobnicate"}, {}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no reason given", args)
		}
	}
	t.Setenv("OCTOSTORE_SKEW_MARGIN", "forever")
	var errb bytes.Buffer
	if code := run([]string{"serve"}, &bytes.Buffer{}, &errb); code != exitUsage || !strings.Contains(errb.String(), "OCTOSTORE_SKEW_MARGIN") {
		t.Fatalf("bad env value: exit %d: %s", code, errb.String())
	}
}

func TestServe_DataDirInUse(t *testing.T) {
	dir := t.TempDir()
	startServe(t, tokensEnv, "--data-dir", dir)
	start := time.Now()
	var errb bytes.Buffer
	code := run([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, &bytes.Buffer{}, &errb)
	if code == 0 || !strings.Contains(errb.String(), "in use") {
		t.Fatalf("exit %d after %v: %s", code, time.Since(start), errb.String())
	}
}

// Cluster settings that would leave node traffic unauthenticated, or that
// name the old HTTP join, are refused before anything listens.
func TestServe_ClusterFlagsRefused(t *testing.T) {
	key := "--cluster-key=cluster-key-0123456789"
	cases := map[string]struct {
		args []string
		want string
	}{
		"NoNodeAuth":  {[]string{"--raft-addr", "127.0.0.1:0"}, "must prove who it is"},
		"ShortKey":    {[]string{"--raft-addr", "127.0.0.1:0", "--cluster-key", "short"}, "at least 16"},
		"HTTPJoin":    {[]string{"--raft-addr", "127.0.0.1:0", key, "--join", "http://127.0.0.1:3001"}, "not a URL"},
		"JoinNoPort":  {[]string{"--raft-addr", "127.0.0.1:0", key, "--join", "127.0.0.1"}, "host:port"},
		"KeyAndCerts": {[]string{"--raft-addr", "127.0.0.1:0", key, "--raft-tls-cert", "a", "--raft-tls-key", "b", "--raft-tls-ca", "c"}, "not both"},
		"PartCerts":   {[]string{"--raft-addr", "127.0.0.1:0", "--raft-tls-cert", "a"}, "go together"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var errb bytes.Buffer
			args := append([]string{"serve", "--data-dir", t.TempDir()}, tc.args...)
			if code := run(args, &bytes.Buffer{}, &errb); code == 0 || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want it to say %q", code, errb.String(), tc.want)
			}
		})
	}
}
