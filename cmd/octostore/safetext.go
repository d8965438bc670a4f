package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// What the commands print often comes from the server: other users' lock
// metadata and names, logins, webhook URLs, node addresses, error
// messages. On a terminal, control characters in it are commands
// (ESC [2J clears the screen, OSC sequences set the title or write the
// clipboard, the C1 CSI U+009B does what ESC [ does), a tab or newline
// forges table cells and rows, and bidi overrides (U+202E) make text read
// as something it is not. So server text is printed only through row or
// safeText, and --json output through safeJSON.

// unsafeRune reports whether r must not reach a terminal raw: C0 controls
// (tab and newline included), DEL, C1 controls, the Unicode bidirectional
// formatting characters, and the line and paragraph separators.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r < 0xa0:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return r == 0x2028 || r == 0x2029
}

// safeText returns s with every unsafe rune written as its Go escape
// (\x1b, \n, \u009b, \u202e) and every byte that is not UTF-8 as \xNN (a
// lone 0x9b byte is CSI to a terminal not in UTF-8 mode). Everything else,
// other non-ASCII text included, is kept as it is.
func safeText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, unsafeRune) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// safeJSON escapes, as \uXXXX, what encoding/json leaves raw: DEL, C1
// controls and the bidi formatting characters. (It escapes C0 controls,
// U+2028 and U+2029 itself and replaces invalid UTF-8.) Such runes can only
// be inside JSON strings, where the escape means the same character, so
// any JSON reader gets the same document; the C0 characters outside
// strings are the encoder's own newlines and are kept.
func safeJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x20 && unsafeRune(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

// row writes one table row: each field formatted with %v, made safe, and
// separated by tabs. Table views print through it alone, so no field can
// miss the escaping.
func row(w io.Writer, fields ...any) {
	for i, f := range fields {
		if i > 0 {
			io.WriteString(w, "\t")
		}
		io.WriteString(w, safeText(fmt.Sprint(f)))
	}
	io.WriteString(w, "\n")
}
