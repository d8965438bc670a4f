package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// wholeNumber is an integer field of a request body. It accepts every
// JSON spelling of a whole number, 30, 30.0, 3e1 and 3.0E+1 alike, because
// JSON has one number type and encoders in Python and JavaScript write
// whole floats that way. A fractional number is refused; one too large for
// an int64 saturates, so the field's range check, not a parse failure,
// answers it with the real bounds.
type wholeNumber int64

// wholeType marks errors of wholeNumber fields for describeJSONError.
var wholeType = reflect.TypeFor[wholeNumber]()

// UnmarshalJSON reads a JSON number. Anything else (a string, a boolean,
// an object) is a type error; a number with a fractional part is a type
// error whose Value starts with "number".
func (n *wholeNumber) UnmarshalJSON(b []byte) error {
	lit := string(b)
	if lit == "" || lit[0] != '-' && (lit[0] < '0' || lit[0] > '9') {
		return &json.UnmarshalTypeError{Value: jsonKind(lit), Type: wholeType}
	}
	v, whole := parseWhole(lit)
	if !whole {
		return &json.UnmarshalTypeError{Value: "number " + lit, Type: wholeType}
	}
	*n = wholeNumber(v)
	return nil
}

// jsonKind names the kind of a JSON value from its first byte.
func jsonKind(lit string) string {
	switch {
	case strings.HasPrefix(lit, `"`):
		return "string"
	case strings.HasPrefix(lit, "{"):
		return "object"
	case strings.HasPrefix(lit, "["):
		return "array"
	}
	return "bool"
}

// parseWhole reads a JSON number literal exactly, without going through a
// float: it reports whether the number is whole and, if so, its value,
// saturated at the int64 bounds.
func parseWhole(lit string) (int64, bool) {
	neg := strings.HasPrefix(lit, "-")
	mant, expPart, _ := strings.Cut(strings.TrimPrefix(lit, "-"), "e")
	if expPart == "" {
		mant, expPart, _ = strings.Cut(mant, "E")
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	// The value is digits × 10^shift.
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	if trimmed == "" {
		return 0, true // any spelling of zero
	}
	shift := exponent(expPart) - int64(len(frac)) + int64(len(digits)-len(trimmed))
	switch {
	case shift < 0:
		return 0, false // nonzero digits after the point
	case int64(len(trimmed))+shift > 19:
		return saturate(neg), true
	}
	v, err := strconv.ParseInt(trimmed+strings.Repeat("0", int(shift)), 10, 64)
	if err != nil {
		return saturate(neg), true
	}
	if neg {
		v = -v
	}
	return v, true
}

// exponent parses a JSON exponent, clamping absurd ones (1e999999999999)
// to a size that still decides wholeness and range correctly.
func exponent(s string) int64 {
	if s == "" {
		return 0
	}
	e, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		if strings.HasPrefix(s, "-") {
			return math.MinInt32
		}
		return math.MaxInt32
	}
	return e
}

func saturate(neg bool) int64 {
	if neg {
		return math.MinInt64
	}
	return math.MaxInt64
}

// queryWhole reads an integer query parameter the way wholeNumber reads a
// body field, so ?limit=1e2 means what {"limit": 1e2} would. fractional
// says the value was a number, just not a whole one.
func queryWhole(v string) (n wholeNumber, fractional bool, err error) {
	err = json.Unmarshal([]byte(v), &n)
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) && strings.HasPrefix(typ.Value, "number") {
		return 0, true, err
	}
	return n, false, err
}
