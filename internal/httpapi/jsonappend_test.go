package httpapi

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"
)

// TestAppendJSON_MatchesMarshal: every hand-written encoder writes the
// bytes json.Marshal writes for the same value (a type without the
// method, so Marshal uses reflection), for any strings, times and
// optional fields.
func TestAppendJSON_MatchesMarshal(t *testing.T) {
	str := rapid.OneOf(rapid.StringMatching(`[a-z0-9/_.-]{0,20}`), rapid.String(),
		rapid.SampledFrom([]string{"<&>", "\u2028\u2029", "\x00\x1f\x7f", "\"\\", "\xff\xfe", "é✓"}))
	t.Run("Lock", rapid.MakeCheck(func(t *rapid.T) {
		type plain lockResponse // same fields and tags, no appendJSON
		r := lockResponse{
			Status: str.Draw(t, "status"), Name: str.Draw(t, "name"), Holder: str.Draw(t, "holder"),
			LeaseID:      uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "lease")),
			FencingToken: rapid.Uint64().Draw(t, "token"),
			ExpiresAt:    time.Unix(0, rapid.Int64Range(0, math.MaxInt64).Draw(t, "expires")).UTC(),
		}
		if rapid.Bool().Draw(t, "session") {
			id := uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "sid"))
			r.SessionID = &id
		}
		if rapid.Bool().Draw(t, "hasMetadata") {
			m := str.Draw(t, "metadata")
			r.Metadata = &m
		}
		if rapid.Bool().Draw(t, "hasWaiters") {
			n := rapid.IntRange(0, 1<<30).Draw(t, "waiters")
			r.Waiters = &n
		}
		if rapid.Bool().Draw(t, "shaped") {
			n := rapid.IntRange(1, 1000).Draw(t, "limit")
			m := rapid.SampledFrom([]string{"exclusive", "shared"}).Draw(t, "mode")
			r.Limit, r.Mode = &n, &m
			for range rapid.IntRange(0, 3).Draw(t, "holders") {
				h := holderView{LeaseID: uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "hlease")),
					FencingToken: rapid.Uint64().Draw(t, "htoken"), Holder: str.Draw(t, "hholder"),
					ExpiresAt: time.Unix(0, rapid.Int64Range(0, math.MaxInt64).Draw(t, "hexpires")).UTC()}
				if rapid.Bool().Draw(t, "hsession") {
					id := uuid.UUID(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "hsid"))
					h.SessionID = &id
				}
				if rapid.Bool().Draw(t, "hmeta") {
					m := str.Draw(t, "hmetadata")
					h.Metadata = &m
				}
				r.Holders = append(r.Holders, h)
			}
		}
		want, err := json.Marshal(plain(r))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("appendJSON:\n %s\nwant\n %s", got, want)
		}
	}))
	t.Run("Release", rapid.MakeCheck(func(t *rapid.T) {
		type plain releaseResponse
		r := releaseResponse{Status: str.Draw(t, "status"), Message: str.Draw(t, "message")}
		want, _ := json.Marshal(plain(r))
		if got := r.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("appendJSON:\n %s\nwant\n %s", got, want)
		}
	}))
}
