package main

import (
	"io"
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
