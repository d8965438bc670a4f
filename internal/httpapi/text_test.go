package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
)

// TestText_InvalidUTF8AndControlCharactersRefused: free text that is not
// valid UTF-8, or holds a control character (C0 including tab and
// newline, DEL, C1), raw or escaped, is refused 422 naming the field, and
// nothing is stored; encoding/json alone would have stored a repaired or
// terminal-rewriting string.
func TestText_InvalidUTF8AndControlCharactersRefused(t *testing.T) {
	_, c := apitest.Start(t)
	bad := map[string]string{
		"RawInvalidByte":     "a\xffb",
		"Overlong":           "\xc0\xaf",
		"RawSurrogate":       "\xed\xa0\x80",
		"Truncated":          "ab\xe2\x82",
		"LoneHighEscape":     `a\ud800b`,
		"HighThenNonLow":     `\ud800\u0041`,
		"LoneLowEscape":      `\udc00`,
		"LowThenHigh":        `\udc00\ud800`,
		"HighAtEnd":          `x\uD83D`,
		"NUL":                `a\u0000b`,
		"ESC":                `\u001b[2J`,
		"Tab":                `a\tb`,
		"Newline":            `a\nfake log line`,
		"CarriageReturn":     `a\rb`,
		"UnitSeparator":      `\u001f`,
		"RawDEL":             "a\x7fb",
		"EscapedDEL":         `\u007f`,
		"RawC1NextLine":      "a\xc2\x85b",
		"EscapedC1CSI":       `\u009b31m`,
		"ControlAfterEscape": `\\\u0007`,
	}
	for name, v := range bad {
		t.Run(name, func(t *testing.T) {
			r := c.Raw("POST", "/locks/text/acquire", alice, []byte(`{"ttl_seconds": 30, "metadata": "`+v+`"}`))
			e := wantError(t, r, http.StatusUnprocessableEntity, "validation_error")
			if e.Error != "metadata must be valid UTF-8 without control characters" {
				t.Fatalf("error %q", e.Error)
			}
		})
	}
	var l lockResp
	c.Do("GET", "/locks/text", alice, nil).JSON(t, &l)
	if l.Status != "available" {
		t.Fatalf("a refused acquire took the lock: %+v", l)
	}
	t.Run("OtherFieldsOfTheBody", func(t *testing.T) {
		held := mustAcquire(t, c, "held", alice, 60)
		r := c.Raw("POST", "/locks/held/release", alice, []byte(`{"lease_id": "`+held.LeaseID+"\xff"+`"}`))
		if e := wantError(t, r, http.StatusUnprocessableEntity, "validation_error"); !strings.Contains(e.Error, "UTF-8") {
			t.Fatalf("error %q", e.Error)
		}
	})
	t.Run("Webhooks", func(t *testing.T) {
		for _, b := range []string{
			`{"url": "https://example.com/\u0000"}`,
			`{"url": "https://example.com/h", "secret": "s\u001bcret"}`,
			`{"url": "https://example.com/h", "secret": "s` + "\xff" + `"}`,
			`{"url": "https://example.com/h", "lock_pattern": "a/\ud800"}`,
		} {
			e := wantError(t, c.Raw("POST", "/webhooks", alice, []byte(b)), http.StatusBadRequest, "bad_request")
			if !strings.Contains(e.Error, "must be valid UTF-8 without control characters") {
				t.Errorf("%s: error %q", b, e.Error)
			}
		}
		var hooks []any
		c.Do("GET", "/webhooks", alice, nil).JSON(t, &hooks)
		if len(hooks) != 0 {
			t.Fatalf("refused registrations stored: %v", hooks)
		}
	})
}

// TestText_UnicodeKept: printable text outside ASCII, escaped or raw,
// including a surrogate pair and a literal backslash-u, is stored as sent.
func TestText_UnicodeKept(t *testing.T) {
	_, c := apitest.Start(t)
	cases := map[string]string{
		`caf\u00e9 ✓`:           "café ✓",
		`\ud83d\ude00 grin`:     "😀 grin",
		`\ufffd is a character`: "\ufffd is a character",
		`not \\u0000 a NUL`:     `not \u0000 a NUL`,
		`rtl \u202e mark`:       "rtl \u202e mark",
	}
	i := 0
	for sent, want := range cases {
		i++
		name := "kept/" + string(rune('a'+i))
		r := c.Raw("POST", "/locks/"+name+"/acquire", alice, []byte(`{"ttl_seconds": 30, "metadata": "`+sent+`"}`))
		wantStatus(t, r, http.StatusOK)
		var l lockResp
		c.Do("GET", "/locks/"+name, alice, nil).JSON(t, &l)
		if l.Metadata != want {
			t.Errorf("metadata %q stored as %q, want %q", sent, l.Metadata, want)
		}
	}
}
