package httpapi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// jsonAppender is an answer that writes its own JSON. The hottest answers
// (acquire, renew, release, status) implement it: encoding/json's
// reflection was a tenth of a request's handler time. Each appendJSON
// writes exactly what json.Marshal writes for the same value, which
// TestAppendJSON_MatchesMarshal checks field by field.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

// encodeJSON is json.Marshal, by appendJSON where v has one.
func encodeJSON(v any) ([]byte, error) {
	if ja, ok := v.(jsonAppender); ok {
		return ja.appendJSON(make([]byte, 0, 256)), nil
	}
	return json.Marshal(v)
}

func (r lockResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = appendJSONString(b, r.Status)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, r.Name)
	b = append(b, `,"lease_id":`...)
	b = appendUUID(b, r.LeaseID)
	b = append(b, `,"fencing_token":`...)
	b = strconv.AppendUint(b, r.FencingToken, 10)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, r.ExpiresAt)
	b = append(b, `,"holder":`...)
	b = appendJSONString(b, r.Holder)
	if r.SessionID != nil {
		b = append(b, `,"session_id":`...)
		b = appendUUID(b, *r.SessionID)
	}
	if r.Metadata != nil {
		b = append(b, `,"metadata":`...)
		b = appendJSONString(b, *r.Metadata)
	}
	if r.Waiters != nil {
		b = append(b, `,"waiters":`...)
		b = strconv.AppendInt(b, int64(*r.Waiters), 10)
	}
	if r.Limit != nil {
		b = append(b, `,"limit":`...)
		b = strconv.AppendInt(b, int64(*r.Limit), 10)
	}
	if r.Mode != nil {
		b = append(b, `,"mode":`...)
		b = appendJSONString(b, *r.Mode)
	}
	if len(r.Holders) > 0 {
		b = append(b, `,"holders":[`...)
		for i, h := range r.Holders {
			if i > 0 {
				b = append(b, ',')
			}
			b = h.appendJSON(b)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (h holderView) appendJSON(b []byte) []byte {
	b = append(b, `{"lease_id":`...)
	b = appendUUID(b, h.LeaseID)
	b = append(b, `,"fencing_token":`...)
	b = strconv.AppendUint(b, h.FencingToken, 10)
	b = append(b, `,"holder":`...)
	b = appendJSONString(b, h.Holder)
	b = append(b, `,"expires_at":`...)
	b = appendTime(b, h.ExpiresAt)
	if h.SessionID != nil {
		b = append(b, `,"session_id":`...)
		b = appendUUID(b, *h.SessionID)
	}
	if h.Metadata != nil {
		b = append(b, `,"metadata":`...)
		b = appendJSONString(b, *h.Metadata)
	}
	return append(b, '}')
}

func (r releaseResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"status":`...)
	b = appendJSONString(b, r.Status)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, r.Message)
	return append(b, '}')
}

// appendJSONString appends s quoted as encoding/json quotes it. Text that
// needs no escaping (names, logins, UUIDs: nearly all of it) is copied;
// anything else goes through encoding/json, so escaping has one author.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendUUID appends u quoted in its canonical form (xxxxxxxx-xxxx-...),
// as uuid.UUID's MarshalText writes it, without String's allocation.
func appendUUID(b []byte, u uuid.UUID) []byte {
	const digits = "0123456789abcdef"
	b = append(b, '"')
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return append(b, '"')
}

// appendTime is time.Time's MarshalJSON for the times answers carry
// (UTC, years 0 to 9999).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
