package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/octostore/octostore/internal/apitest"
)

// hostile is text another user (or a hostile server) controls: clear the
// screen, set the window title, ring the bell, a C1 CSI, a right-to-left
// override, DEL, and a tab and newline that would forge a cell and a row.
const hostile = "evil\x1b[2J\x1b]0;owned\x07\u009b31m\u202eexe.txt\x7f\tcell\nFORGED"

// rawControl finds, independently of the code under test, the first byte
// sequence a terminal would act on: a control character other than the
// newlines that end lines, a C1 control, a bidi override, or bytes that
// are not UTF-8. It returns -1 when there is none.
func rawControl(out string) int {
	return strings.IndexFunc(out, func(r rune) bool {
		return r != '\n' && (r < 0x20 || r >= 0x7f && r < 0xa0 || r == '\u202e' || r == utf8.RuneError)
	})
}

func assertInert(t *testing.T, what, out string) {
	t.Helper()
	if i := rawControl(out); i >= 0 {
		t.Errorf("%s: raw control %q at %d:\n%q", what, out[i:min(i+4, len(out))], i, out)
	}
	if strings.Contains(out, "\nFORGED") {
		t.Errorf("%s: a server string forged a line:\n%s", what, out)
	}
}

func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		hostile:                `evil\x1b[2J\x1b]0;owned\a\u009b31m\u202eexe.txt\x7f\tcell\nFORGED`,
		"\xff\x9b[31m":         `\xff\x9b[31m`, // not UTF-8: a lone 0x9b is CSI to a Latin-1 terminal
		"\u2066x\u2069 \u2028": `\u2066x\u2069 \u2028`,
		"café ✓ 日本 \U0001F469\u200d\U0001F4BB \\x1b": "café ✓ 日本 \U0001F469\u200d\U0001F4BB \\x1b", // text, a joiner and backslashes stay
	} {
		if got := safeText(in); got != want {
			t.Errorf("safeText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSafeJSON: encoding/json escapes C0 controls (ESC is \u001b) but
// leaves DEL, C1 controls and bidi overrides raw; safeJSON escapes those
// too, and the document still decodes to the same text.
func TestSafeJSON(t *testing.T) {
	b, err := json.Marshal(map[string]string{"m": hostile})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `\u001b[2J`) || !strings.Contains(string(b), "\u009b") || !strings.Contains(string(b), "\x7f") {
		t.Fatalf("encoding/json changed: %q", b)
	}
	safe := safeJSON(b)
	assertInert(t, "safeJSON", string(safe))
	var back map[string]string
	if err := json.Unmarshal(safe, &back); err != nil || back["m"] != hostile {
		t.Fatalf("round trip: %q %v", back["m"], err)
	}
}

// storable is the part of hostile a server stores: it refuses control
// characters in metadata, but a bidi override is text to it.
const storable = "evil\u202eexe.txt"

// TestLockCLI_OthersMetadataIsInert: bob lists and reads a lock alice holds
// with hostile metadata; nothing he sees can act on his terminal, in
// tables or JSON, and the JSON still carries the exact text.
func TestLockCLI_OthersMetadataIsInert(t *testing.T) {
	url := "http://" + apitest.StartServer(t, "").Addr()
	if code, _, _ := cli(t, url, "lock", "acquire", "shared/evil", "--metadata", hostile); code != exitFailure {
		t.Fatalf("acquire with control characters in metadata: exit %d, want the server's refusal", code)
	}
	if code, _, errs := cli(t, url, "lock", "acquire", "shared/evil", "--metadata", storable); code != 0 {
		t.Fatalf("acquire: %d %s", code, errs)
	}
	bob := []string{"--token", apitest.BobToken}
	for _, args := range [][]string{{"lock", "list"}, {"lock", "status", "shared/evil"}} {
		code, out, errs := cli(t, url, append(args, bob...)...)
		if code != 0 || !strings.Contains(out, `\u202e`) || strings.Count(out, "\n") != 2 {
			t.Fatalf("%v: exit %d, want a header and one row showing the escaped metadata:\n%s%s", args, code, out, errs)
		}
		assertInert(t, strings.Join(args, " "), out)
		code, out, _ = cli(t, url, append(args, append(bob, "--json")...)...)
		assertInert(t, strings.Join(args, " ")+" --json", out)
		var got struct {
			Metadata string
			Locks    []struct{ Metadata string }
		}
		if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
			t.Fatalf("%v --json: exit %d: %s", args, code, out)
		}
		if got.Metadata != storable && (len(got.Locks) != 1 || got.Locks[0].Metadata != storable) {
			t.Fatalf("%v --json: the metadata did not survive: %s", args, out)
		}
	}
}

// hostileServer answers the client's reads with hostile text in every
// string field, and every other request with a hostile 409.
func hostileServer(t *testing.T) string {
	e, _ := json.Marshal(hostile)
	answers := map[string]string{
		"/locks": `{"locks":[{"name":E,"status":E,"holder_id":E,"holder":E,"fencing_token":7,"expires_at":T,"metadata":E}],
			"total":1,"next_after":E}`,
		"/locks/x": `{"status":"held","name":E,"lease_id":E,"fencing_token":7,"expires_at":T,"holder":E,"session_id":E,
			"metadata":E,"waiters":1}`,
		"/webhooks": `[{"id":E,"user_id":E,"url":E,"secret":E,"events":[E],"lock_pattern":E,"created_at":T,"active":false,
			"inactive_reason":E}]`,
		"/auth/tokens": `{"tokens":[{"id":E,"user_id":E,"login":E,"source":E,"created_at":T,"current":true}]}`,
		"/cluster": `{"leader":E,"term":1,"commit_index":2,"applied_index":2,"self":E,
			"nodes":[{"id":E,"raft_addr":E,"http_addr":E,"role":E,"voter":true}]}`,
		"/sessions/s": `{"session_id":E,"user_id":E,"expires_at":T,"lock_count":1,"active":true}`,
		"/namespaces": `{"namespaces":[{"name":E,"account":E,"bound_at":T}],"next_after":null}`,
	}
	refusal := `{"error":E,"details":E,"code":"lock_held","lock":{"name":E,"holder":E,"expires_at":T}}`
	fill := strings.NewReplacer("E", string(e), "T", `"2030-01-01T00:00:00Z"`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body, ok := answers[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusConflict)
			body = refusal
		}
		w.Write([]byte(fill.Replace(body)))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCLI_HostileServerTextIsInert: whatever string a server sends back,
// in any field of any command's table, its JSON, or an error, reaches the
// terminal escaped.
func TestCLI_HostileServerTextIsInert(t *testing.T) {
	url := hostileServer(t)
	for _, args := range [][]string{
		{"lock", "list", "--limit", "5"}, {"lock", "status", "x"}, {"webhook", "list"}, {"token", "list"},
		{"cluster", "status"}, {"session", "status", "s"}, {"namespace", "list"},
	} {
		for _, format := range [][]string{nil, {"--json"}} {
			code, out, errs := cli(t, url, append(args, format...)...)
			what := strings.Join(append(args, format...), " ")
			if code != 0 || !strings.Contains(out, "evil") {
				t.Fatalf("%s: exit %d:\n%s%s", what, code, out, errs)
			}
			assertInert(t, what, out)
		}
	}
	code, _, errs := cli(t, url, "lock", "acquire", "x")
	if code != exitLockHeld || !strings.Contains(errs, "evil") {
		t.Fatalf("refused acquire: exit %d: %s", code, errs)
	}
	assertInert(t, "the error of a refused acquire", errs)
	stdin = strings.NewReader("a-token\n")
	t.Cleanup(func() { stdin = os.Stdin })
	var out, errb bytes.Buffer
	login := []string{"login", "--url", url, "--token-file", filepath.Join(t.TempDir(), "token")}
	if code := run(login, &out, &errb); code != 0 || !strings.Contains(out.String(), "evil") {
		t.Fatalf("login: exit %d: %s%s", code, out.String(), errb.String())
	}
	assertInert(t, "login", out.String()+errb.String())
}
