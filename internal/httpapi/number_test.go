package httpapi

import (
	"math"
	"testing"
)

// TestParseWhole checks the exact reading of JSON number literals, where
// a float would round: 9007199254740993 is not 9007199254740992, and
// 1.0000000000000000001 is not whole.
func TestParseWhole(t *testing.T) {
	cases := []struct {
		lit   string
		want  int64
		whole bool
	}{
		{"0", 0, true}, {"-0", 0, true}, {"0.000", 0, true}, {"0e-999999999999", 0, true},
		{"30", 30, true}, {"30.0", 30, true}, {"3e1", 30, true}, {"3E+1", 30, true}, {"300e-1", 30, true},
		{"-12.50e1", -125, true}, {"9007199254740993", 9007199254740993, true},
		{"9223372036854775807", math.MaxInt64, true}, {"9223372036854775808", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true}, {"1e19", math.MaxInt64, true},
		{"1e999999999999", math.MaxInt64, true}, {"-1e30", math.MinInt64, true},
		{"30.5", 0, false}, {"1e-1", 0, false}, {"1.0000000000000000001", 0, false}, {"1e-999999999999", 0, false},
	}
	for _, tc := range cases {
		got, whole := parseWhole(tc.lit)
		if whole != tc.whole || whole && got != tc.want {
			t.Errorf("parseWhole(%s) = %d, %v; want %d, %v", tc.lit, got, whole, tc.want, tc.whole)
		}
	}
}
