package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
)

// isolate keeps the developer's OCTOSTORE_* settings and login file out of
// an in-process command.
func isolate(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	for _, v := range []string{"OCTOSTORE_URL", "OCTOSTORE_TOKEN", "OCTOSTORE_TOKEN_FILE",
		"OCTOSTORE_CA_FILE", "OCTOSTORE_CERT_FILE", "OCTOSTORE_KEY_FILE"} {
		t.Setenv(v, "")
	}
}

// cli runs the command in-process against url as alice and returns its
// exit code, stdout and stderr.
func cli(t *testing.T, url string, args ...string) (int, string, string) {
	t.Helper()
	isolate(t)
	var out, errb bytes.Buffer
	conn := []string{"--url", url}
	if !strings.Contains(strings.Join(args, " "), "--token") {
		conn = append(conn, "--token", apitest.AliceToken)
	}
	at := min(2, len(args)) // before any "--"
	code := run(append(append(args[:at:at], conn...), args[at:]...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestLockCLI_Commands(t *testing.T) {
	url := "http://" + apitest.StartServer(t, "").Addr()
	code, out, errs := cli(t, url, "lock", "acquire", "ci/deploy", "--ttl", "1m", "--metadata", "build 7", "--json")
	var lease struct {
		LeaseID      string `json:"lease_id"`
		FencingToken uint64 `json:"fencing_token"`
		Status       string
	}
	if code != 0 || json.Unmarshal([]byte(out), &lease) != nil || lease.Status != "acquired" || lease.LeaseID == "" {
		t.Fatalf("acquire: %d %s %s", code, out, errs)
	}
	code, out, _ = cli(t, url, "lock", "list", "ci/")
	if code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "ci/deploy") || !strings.Contains(out, "build 7") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	code, out, _ = cli(t, url, "lock", "status", "ci/deploy", "--json")
	var st struct {
		Held   bool
		Holder string
		Index  uint64
	}
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || !st.Held || st.Holder != "alice" || st.Index == 0 {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, out, _ = cli(t, url, "lock", "renew", "ci/deploy", lease.LeaseID, "--ttl", "2m"); code != 0 || !strings.Contains(out, "ci/deploy") {
		t.Fatalf("renew: %d %s", code, out)
	}
	code, _, errs = cli(t, url, "lock", "acquire", "ci/deploy", "--token", apitest.BobToken)
	if code != exitLockHeld || !strings.Contains(errs, "alice") {
		t.Fatalf("acquire of a held lock: exit %d, want %d: %s", code, exitLockHeld, errs)
	}
	code, out, _ = cli(t, url, "lock", "status", "ci/deploy", "--json") // the index after the renewal
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
		t.Fatalf("status: %d %s", code, out)
	}
	changed := make(chan string, 1)
	go func() {
		var out, errb bytes.Buffer
		run([]string{"lock", "status", "ci/deploy", "--url", url, "--token", apitest.AliceToken,
			"--wait", "20s", "--index", strconv.FormatUint(st.Index, 10)}, &out, &errb)
		changed <- out.String()
	}()
	if code, out, _ = cli(t, url, "lock", "release", "ci/deploy", lease.LeaseID); code != 0 || !strings.Contains(out, "released") {
		t.Fatalf("release: %d %s", code, out)
	}
	select {
	case out := <-changed:
		if !strings.Contains(out, "available") {
			t.Fatalf("blocking status after release: %s", out)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocking status did not return after the release")
	}
	if code, out, _ = cli(t, url, "lock", "status", "ci/deploy"); code != 0 || !strings.Contains(out, "available") {
		t.Fatalf("status after release: %d %s", code, out)
	}
	if code, _, _ = cli(t, url, "lock", "release", "ci/deploy", lease.LeaseID); code != exitFailure {
		t.Fatalf("second release: exit %d", code)
	}
}

func TestSessionCLI_Commands(t *testing.T) {
	url := "http://" + apitest.StartServer(t, "").Addr()
	code, out, errs := cli(t, url, "session", "create", "--ttl", "20s", "--json")
	var s struct {
		ID       string `json:"session_id"`
		Interval int64  `json:"keepalive_interval_secs"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s.ID == "" || s.Interval != 10 {
		t.Fatalf("create: %d %s %s", code, out, errs)
	}
	if code, _, _ = cli(t, url, "lock", "acquire", "w/1", "--session", s.ID); code != 0 {
		t.Fatalf("acquire with session: %d", code)
	}
	if code, out, _ = cli(t, url, "session", "keepalive", s.ID); code != 0 || !strings.Contains(out, s.ID) {
		t.Fatalf("keepalive: %d %s", code, out)
	}
	if code, out, _ = cli(t, url, "session", "status", s.ID); code != 0 || !strings.Contains(out, "ACTIVE") || !strings.Contains(out, "true") {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, _, _ = cli(t, url, "session", "delete", s.ID); code != 0 {
		t.Fatalf("delete: %d", code)
	}
	if code, out, _ = cli(t, url, "lock", "status", "w/1"); code != 0 || !strings.Contains(out, "available") {
		t.Fatalf("session lock after delete: %d %s", code, out)
	}
	if code, _, errs = cli(t, url, "session", "keepalive", s.ID); code != exitFailure || !strings.Contains(errs, "410") {
		t.Fatalf("keepalive of a deleted session: %d %s", code, errs)
	}
}

func TestWebhookCLI_Commands(t *testing.T) {
	url := "http://" + apitest.StartServer(t, "").Addr()
	if code, _, errs := cli(t, url, "webhook", "add", "http://example.com/x"); code != exitFailure || !strings.Contains(errs, "400") {
		t.Fatalf("plain http webhook: %d %s", code, errs)
	}
	// A literal public address: the SSRF guard needs no DNS (documentation
	// ranges such as 203.0.113.0/24 are refused). Nothing is ever sent to it:
	// it is deleted before any lock event.
	code, out, errs := cli(t, url, "webhook", "add", "https://1.1.1.1/x", "--events", "acquired,released", "--pattern", "deploy/**", "--json")
	if code != 0 {
		t.Fatalf("webhook add: %d %s", code, errs)
	}
	var hooks []struct{ ID string }
	if json.Unmarshal([]byte(out), &hooks) != nil || len(hooks) != 1 {
		t.Fatalf("add: %s", out)
	}
	if code, out, _ = cli(t, url, "webhook", "list"); code != 0 || !strings.Contains(out, hooks[0].ID) || !strings.Contains(out, "acquired,released") {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, _, _ = cli(t, url, "webhook", "delete", hooks[0].ID); code != 0 {
		t.Fatalf("delete: %d", code)
	}
}

func TestClientCLI_ExitCodes(t *testing.T) {
	url := "http://" + apitest.StartServer(t, "").Addr()
	for _, args := range [][]string{
		{"lock"}, {"lock", "frobnicate"}, {"lock", "acquire"}, {"lock", "acquire", "a", "b"},
		{"lock", "renew", "a"}, {"lock", "hold", "a"}, {"lock", "hold", "a", "--"},
		{"lock", "hold", "--", "true"}, {"lock", "hold", "a", "--ttl", "1s", "--", "true"},
		{"lock", "hold", "a", "--wait", "6m", "--", "true"}, {"lock", "list", "--bogus"},
		{"session"}, {"session", "delete"}, {"webhook", "add"}, {"login", "extra"},
	} {
		code, _, errs := cli(t, url, args...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != exitUsage || first == "" || !strings.Contains(errs, "Usage") {
			t.Errorf("%v: exit %d, want %d with a reason and the help:\n%s", args, code, exitUsage, errs)
		}
	}
	file := filepath.Join(t.TempDir(), "token")
	os.WriteFile(file, []byte(apitest.AliceToken+"\n"), 0o644)
	if code, _, errs := cli(t, url, "lock", "list", "--token-file", file); code != exitNoPerm || !strings.Contains(errs, "readable by others") {
		t.Errorf("0644 token file: exit %d: %s", code, errs)
	}
	os.Chmod(file, 0o600)
	if code, _, errs := cli(t, url, "lock", "list", "--token-file", file); code != 0 {
		t.Errorf("0600 token file: exit %d: %s", code, errs)
	}
	if code, _, _ := cli(t, url, "lock", "list", "--token", "wrong-token-0123456789"); code != exitNoPerm {
		t.Errorf("bad token: exit %d", code)
	}
	isolate(t)
	var out, errb bytes.Buffer
	if code := run([]string{"lock", "list", "--url", url}, &out, &errb); code != exitNoPerm || !strings.Contains(errb.String(), "octostore login") {
		t.Errorf("no token: exit %d: %s", code, errb.String())
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String()
	ln.Close()
	if code, _, _ := cli(t, closed, "lock", "status", "x"); code != exitUnavailable {
		t.Errorf("no server: exit %d", code)
	}
}

func TestLogin_KeepsTheToken(t *testing.T) {
	url := "http://" + apitest.StartServer(t, "").Addr()
	isolate(t)
	config := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", config)
	stdin = strings.NewReader(apitest.AliceToken + "\n")
	t.Cleanup(func() { stdin = os.Stdin })
	var out, errb bytes.Buffer
	if code := run([]string{"login", "--url", url}, &out, &errb); code != 0 ||
		!strings.Contains(errb.String(), url+"/auth/github") || !strings.Contains(out.String(), "alice") {
		t.Fatalf("login: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	file := filepath.Join(config, "octostore", "token")
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", info, err)
	}
	out.Reset()
	if code := run([]string{"lock", "list", "--url", url}, &out, &errb); code != 0 {
		t.Fatalf("list with the login file: exit %d %s", code, errb.String())
	}
	stdin = strings.NewReader("wrong-token-0123456789\n")
	if code := run([]string{"login", "--url", url}, &out, &errb); code != exitNoPerm {
		t.Fatalf("login with a wrong token: exit %d", code)
	}
}
