package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestApplyEnv_FlagBeatsAlternativeEnv: --token-file on the command line
// wins over an OCTOSTORE_TOKEN left in the environment, and the
// environment still fills flags nobody gave.
func TestApplyEnv_FlagBeatsAlternativeEnv(t *testing.T) {
	t.Setenv("OCTOSTORE_TOKEN", "from-env")
	t.Setenv("OCTOSTORE_URL", "http://127.0.0.1:4000")
	fs := newFlagSet("test", io.Discard)
	c := addConnFlags(fs)
	if err := parseFlags(fs, []string{"--token-file", "/some/file"}); err != nil {
		t.Fatal(err)
	}
	if c.token != "" || c.tokenFile != "/some/file" {
		t.Fatalf("token %q, token file %q: the flag must win", c.token, c.tokenFile)
	}
	if c.url != "http://127.0.0.1:4000" {
		t.Fatalf("url %q: the environment must fill an unset flag", c.url)
	}
}

// TestBadFlagValue_SaidOnce: a duration without a unit (and other bad
// values) is reported once, naming the flag as --name and what it takes,
// with the help printed once; -h prints the help once and succeeds.
func TestBadFlagValue_SaidOnce(t *testing.T) {
	isolate(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"lock", "acquire", "x", "--ttl", "30"}, `invalid value "30" for flag --ttl: use a duration like 30s`},
		{[]string{"lock", "hold", "x", "--wait=5", "--", "true"}, `invalid value "5" for flag --wait: use a duration like 30s`},
		{[]string{"lock", "hold", "x", "--limit=many", "--", "true"}, `invalid value "many" for flag --limit: use a whole number`},
		{[]string{"elect", "x", "--ttl=5", "--", "true"}, `invalid value "5" for flag --ttl: use a duration like 30s`},
		{[]string{"session", "create", "--ttl", "1"}, `invalid value "1" for flag --ttl: use a duration like 30s`},
		{[]string{"serve", "--body-timeout", "10"}, `invalid value "10" for flag --body-timeout: use a duration like 30s`},
		{[]string{"serve", "--max-in-flight", "many"}, `invalid value "many" for flag --max-in-flight: use a whole number`},
		{[]string{"bench", "--duration", "10"}, `invalid value "10" for flag --duration: use a duration like 30s`},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		errs := errb.String()
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want %d saying %q:\n%s", tc.args, code, exitUsage, tc.want, errs)
		}
		if n := strings.Count(errs, "invalid value"); n != 1 {
			t.Errorf("%v: the reason is printed %d times:\n%s", tc.args, n, errs)
		}
		if n := strings.Count(errs, "Usage"); n != 1 {
			t.Errorf("%v: the usage is printed %d times:\n%s", tc.args, n, errs)
		}
		if strings.Contains(errs, "parse error") {
			t.Errorf("%v: says only %q:\n%s", tc.args, "parse error", errs)
		}
	}
	t.Setenv("OCTOSTORE_TTL", "30")
	var errb bytes.Buffer
	if code := run([]string{"lock", "acquire", "x"}, &bytes.Buffer{}, &errb); code != exitUsage ||
		!strings.Contains(errb.String(), `invalid value "30" in OCTOSTORE_TTL: use a duration like 30s`) {
		t.Errorf("bad env value: exit %d:\n%s", code, errb.String())
	}
	for _, args := range [][]string{{"lock", "acquire", "-h"}, {"serve", "--help"}, {"lock", "hold", "-h"},
		{"elect", "-h"}, {"elect", "observe", "-h"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || strings.Count(errb.String(), "Usage") != 1 {
			t.Errorf("%v: exit %d, want 0 and the help once:\n%s", args, code, errb.String())
		}
	}
}
