package state

import (
	"errors"
	"strings"
)

// Lock-name globs, for webhook filters: components separated by '/';
// '*' matches any run of characters inside one component; a component
// that is exactly '**' matches any number of components, none included.
// "svc/*/lock" matches "svc/a/lock"; "svc/**" matches "svc/a/b/c".

// ValidPattern reports why pattern is not a valid lock-name glob.
func ValidPattern(pattern string) error {
	if pattern == "" || len(pattern) > MaxLockNameLen {
		return errors.New("lock_pattern must be 1 to 256 bytes")
	}
	for _, c := range strings.Split(pattern, "/") {
		switch {
		case c == "":
			return errors.New("lock_pattern has an empty component (leading, trailing or double '/')")
		case c == "**":
			continue
		case strings.Contains(c, "**"):
			return errors.New("lock_pattern: '**' must be a whole component, as in a/**/b")
		}
		for i := 0; i < len(c); i++ {
			if !nameByte(c[i]) && c[i] != '*' {
				return errors.New("lock_pattern may contain only lock-name characters, '/', '*' and '**'")
			}
		}
	}
	return nil
}

// MatchPattern reports whether the lock name matches the valid pattern.
func MatchPattern(pattern, name string) bool {
	return matchGlob(strings.Split(pattern, "/"), strings.Split(name, "/"), "**", matchSegment)
}

func matchSegment(pattern, s string) bool {
	return matchGlob([]byte(pattern), []byte(s), '*', func(p, c byte) bool { return p == c })
}

// matchGlob is glob matching over sequences where star matches any run of
// elements: greedy with one backtrack point, so O(len(p)·len(n)) however
// many stars the pattern has.
func matchGlob[E comparable](p, n []E, star E, eq func(p, n E) bool) bool {
	pi, ni, lastStar, mark := 0, 0, -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && p[pi] == star:
			lastStar, mark = pi, ni
			pi++
		case pi < len(p) && eq(p[pi], n[ni]):
			pi++
			ni++
		case lastStar >= 0:
			pi = lastStar + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == star {
		pi++
	}
	return pi == len(p)
}
