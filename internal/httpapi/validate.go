package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// Field validation shared by the handlers. Messages follow the seed's
// examples where it has them.

func validName(name string) error {
	if err := state.ValidLockName(name); err != nil {
		return invalid("invalid lock name: %v", err)
	}
	return nil
}

func lockTTL(secs *wholeNumber) (time.Duration, error) {
	if secs == nil {
		return 0, invalid("ttl_seconds is required")
	}
	return seconds(*secs, state.MinLockTTL, state.MaxLockTTL, "TTL must be between 1 and 3600 seconds")
}

func sessionTTL(secs *wholeNumber) (time.Duration, error) {
	if secs == nil {
		return state.DefaultSessionTTL, nil
	}
	return seconds(*secs, state.MinSessionTTL, state.MaxSessionTTL, "Session TTL must be between 10 and 300 seconds")
}

// seconds converts a whole number of seconds within [lo, hi]. The range is
// checked before converting, so a huge value (saturated by wholeNumber)
// cannot overflow into range.
func seconds(secs wholeNumber, lo, hi time.Duration, msg string) (time.Duration, error) {
	if int64(secs) < int64(lo/time.Second) || int64(secs) > int64(hi/time.Second) {
		return 0, invalid("%s", msg)
	}
	return time.Duration(secs) * time.Second, nil
}

func waitSeconds(secs *wholeNumber) (time.Duration, error) {
	if secs == nil {
		return 0, nil
	}
	return seconds(*secs, 0, state.MaxWait, "wait_seconds must be between 0 and 300")
}

func leaseID(s *string) (uuid.UUID, error) {
	if s == nil {
		return uuid.Nil, invalid("lease_id is required")
	}
	id, err := parseUUID(*s)
	if err != nil {
		return uuid.Nil, invalid("Invalid lease_id format")
	}
	return id, nil
}

func optionalUUID(field string, s *string) (uuid.UUID, error) {
	if s == nil {
		return uuid.Nil, nil
	}
	id, err := parseUUID(*s)
	if err != nil {
		return uuid.Nil, invalid("Invalid %s format", field)
	}
	return id, nil
}

func metadata(s *text) (string, error) { return textUpTo("metadata", s, state.MaxMetadataLen) }

// textUpTo reads an optional text field of at most max bytes.
func textUpTo(field string, s *text, max int) (string, error) {
	if s == nil {
		return "", nil
	}
	if len(*s) > max {
		return "", invalid("%s must be at most %d bytes", field, max)
	}
	return string(*s), nil
}

func maxLen(field, v string) error {
	if len(v) > state.MaxLockNameLen {
		return invalid("%s must be at most %d bytes", field, state.MaxLockNameLen)
	}
	return nil
}

// staleParam parses ?stale=, which lets any node answer from local state.
func staleParam(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("stale")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalid("stale must be true or false")
	}
	return b, nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
