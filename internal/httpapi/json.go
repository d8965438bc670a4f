package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"unicode/utf8"
)

// maxBody bounds every request body; larger ones are answered 413.
const maxBody = 64 << 10

// Header values every answer sets, shared so that setting one costs no
// allocation. net/http and the handlers replace header values, never
// modify them in place.
var (
	contentTypeJSON = []string{"application/json"}
	connectionClose = []string{"close"}
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := encodeJSON(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"Internal error","code":"internal"}`)
	}
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// readBody returns the request body, or ErrBodyTooLarge past maxBody, or
// ErrBodyTimeout past the read deadline.
func readBody(r *http.Request) ([]byte, error) {
	b, err := readAll(r.Body, r.ContentLength)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, ErrBodyTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, ErrBodyTimeout
	case err != nil:
		return nil, invalid("could not read the request body: %v", err)
	}
	return b, nil
}

// decodeJSON strictly decodes the body into v: one JSON object, known
// fields only, right types. An empty body is an error only when required.
// Every failure says what is wrong.
// The body is what intake read (readBodyFirst), as it does for every
// route whose POST handler decodes one (route.body): nil when none came.
func decodeJSON(r *request, v any, required bool) error {
	body := r.body
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		if required {
			return invalid("request body is required: a JSON object")
		}
		return nil
	}
	if bytes.Equal(trimmed, []byte("null")) {
		// encoding/json would leave v untouched, taking null for {}.
		return invalid("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("unexpected data after the JSON object")
	}
	if !utf8.Valid(body) {
		// Text fields say which one; this catches the rest (an ID, a
		// field name) that encoding/json would have repaired silently.
		return invalid("request body must be valid UTF-8")
	}
	return nil
}

// readAll is io.ReadAll starting from the size the request declared
// (within maxBody), so a body is read into one allocation of its size
// instead of 512 bytes grown by copying.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > maxBody {
		return io.ReadAll(r)
	}
	// +1: room to see EOF without growing. At most 4 KiB before any of it
	// arrives: a declared size is not a body (lock requests are ~100 bytes).
	b := make([]byte, 0, min(size+1, 4<<10))
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

func describeJSONError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("invalid JSON: %v", err)
	case errors.As(err, &typ) && typ.Field == "":
		return invalid("request body must be a JSON object")
	case typ != nil && typ.Type == wholeType && strings.HasPrefix(typ.Value, "number"):
		return invalid("%s must be a whole number", typ.Field)
	case typ != nil && typ.Type == textType && typ.Value == badText:
		return invalid("%s must be valid UTF-8 without control characters", typ.Field)
	case errors.As(err, &typ):
		return invalid("%s must be %s", typ.Field, jsonType(typ.Type))
	}
	// DisallowUnknownFields reports `json: unknown field "x"`.
	return invalid("%s", bytes.TrimPrefix([]byte(err.Error()), []byte("json: ")))
}

func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	}
	return "a " + t.Kind().String()
}
