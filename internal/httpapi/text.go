package httpapi

import (
	"encoding/json"
	"reflect"
	"unicode"
	"unicode/utf8"
)

// text is a free-text field of a request body (metadata, a webhook's URL,
// secret or pattern): stored, then shown in lists, logs and terminals.
// encoding/json would silently replace invalid UTF-8 and unpaired
// surrogate escapes with U+FFFD, storing something the client never sent,
// and lets control characters through, which can rewrite a terminal or
// forge lines in a log. Both are refused, naming the field.
//
// Every control character is refused, tab and newline included: a
// one-line label is what these fields are for, and a newline is exactly
// what forges a log line. Format characters (bidi marks, U+2028) are
// printable text and pass.
type text string

// textType marks errors of text fields for describeJSONError.
var textType = reflect.TypeFor[text]()

// badText is the Value of the type error for invalid text.
const badText = "invalid text"

// UnmarshalJSON checks the literal as sent, before unescaping hides what
// was wrong.
func (t *text) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		return &json.UnmarshalTypeError{Value: jsonKind(string(b)), Type: textType}
	}
	if !utf8.Valid(b) || unpairedSurrogate(b) {
		return &json.UnmarshalTypeError{Value: badText, Type: textType}
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for _, r := range s {
		if unicode.IsControl(r) { // C0, DEL and C1
			return &json.UnmarshalTypeError{Value: badText, Type: textType}
		}
	}
	*t = text(s)
	return nil
}

// unpairedSurrogate reports whether the JSON string literal b has a \u
// escape of a UTF-16 surrogate that is not a high one followed by a low
// one: such a string is not Unicode text.
func unpairedSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character; an escaped backslash is skipped whole
		if i >= len(b) || b[i] != 'u' {
			continue
		}
		r, ok := hex4(b, i+1)
		i += 4
		switch {
		case !ok || r < 0xD800 || r > 0xDFFF:
		case r >= 0xDC00:
			return true // a low surrogate first
		default:
			low, ok := hex4(b, i+3)
			if i+2 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' || !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

// hex4 reads the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
