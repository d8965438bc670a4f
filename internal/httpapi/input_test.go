package httpapi_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/poll"
)

// TestBadInput sends every kind of malformed request and checks that each
// gets a 4xx JSON error saying what is wrong, and that none of them
// changes anything.
func TestBadInput(t *testing.T) {
	_, c := apitest.Start(t)
	held := mustAcquire(t, c, "held", alice, 60)
	sess := newSession(t, c, alice, 60)
	long := strings.Repeat("a", 65)
	cases := []struct {
		name, method, path, body string
		status                   int
		mention                  string // a word the error must contain
	}{
		{"NotJSON", "POST", "/locks/x/acquire", `ttl=5`, 422, "invalid JSON"},
		{"TruncatedJSON", "POST", "/locks/x/acquire", `{"ttl_seconds": 5`, 422, "invalid JSON"},
		{"EmptyBody", "POST", "/locks/x/acquire", ``, 422, "required"},
		{"NullBody", "POST", "/locks/x/acquire", `null`, 422, "JSON object"},
		{"NullSessionBody", "POST", "/sessions", `null`, 422, "JSON object"},
		{"ArrayBody", "POST", "/locks/x/acquire", `[1]`, 422, "JSON object"},
		{"TrailingData", "POST", "/locks/x/acquire", `{"ttl_seconds": 5} {}`, 422, "unexpected data"},
		{"UnknownField", "POST", "/locks/x/acquire", `{"ttl_seconds": 5, "tll": 1}`, 422, "tll"},
		{"TTLString", "POST", "/locks/x/acquire", `{"ttl_seconds": "5"}`, 422, "integer"},
		{"TTLFloat", "POST", "/locks/x/acquire", `{"ttl_seconds": 1.5}`, 422, "whole number"},
		{"TTLHuge", "POST", "/locks/x/acquire", `{"ttl_seconds": 1e30}`, 422, "between 1 and 3600"},
		{"TTLMissing", "POST", "/locks/x/acquire", `{}`, 422, "ttl_seconds"},
		{"TTLZero", "POST", "/locks/x/acquire", `{"ttl_seconds": 0}`, 422, "TTL"},
		{"TTLNegative", "POST", "/locks/x/acquire", `{"ttl_seconds": -1}`, 422, "TTL"},
		{"TTLTooLong", "POST", "/locks/x/acquire", `{"ttl_seconds": 3601}`, 422, "TTL"},
		{"TTLOverflowsDuration", "POST", "/locks/x/acquire", `{"ttl_seconds": 9223372037}`, 422, "TTL"},
		{"SessionTTLOverflows", "POST", "/sessions", `{"ttl_seconds": 18446744074}`, 422, "Session TTL"},
		{"MetadataTooLong", "POST", "/locks/x/acquire", `{"ttl_seconds": 5, "metadata": "` + strings.Repeat("m", 1025) + `"}`, 422, "metadata"},
		{"MetadataWrongType", "POST", "/locks/x/acquire", `{"ttl_seconds": 5, "metadata": 1}`, 422, "string"},
		{"SessionNotUUID", "POST", "/locks/x/acquire", `{"ttl_seconds": 5, "session_id": "abc"}`, 422, "session_id"},
		{"SessionUnknown", "POST", "/locks/x/acquire", `{"ttl_seconds": 5, "session_id": "` + uuid.NewString() + `"}`, 422, "session_id"},
		{"NameDoubleSlash", "POST", "/locks/a//b/acquire", `{"ttl_seconds": 5}`, 422, "empty component"},
		{"NameDotDot", "POST", "/locks/a/../acquire", `{"ttl_seconds": 5}`, 422, ".."},
		{"NameEncodedDot", "POST", "/locks/%2E/acquire", `{"ttl_seconds": 5}`, 422, "'.'"},
		{"NameBadChar", "POST", "/locks/a%20b/acquire", `{"ttl_seconds": 5}`, 422, "letters"},
		{"NameComponentTooLong", "POST", "/locks/" + long + "/acquire", `{"ttl_seconds": 5}`, 422, "64"},
		{"NameTooLong", "GET", "/locks/" + strings.Repeat("abcdefgh/", 30) + "x", ``, 422, "256"},
		{"NameEmpty", "GET", "/locks/%2F", ``, 422, "empty"},
		{"LeaseNotUUID", "POST", "/locks/held/release", `{"lease_id": "550e8400"}`, 422, "lease_id"},
		{"LeaseBraced", "POST", "/locks/held/release", `{"lease_id": "{` + held.LeaseID + `}"}`, 422, "lease_id"},
		{"LeaseMissing", "POST", "/locks/held/renew", `{"ttl_seconds": 5}`, 422, "lease_id"},
		{"LeaseWrongType", "POST", "/locks/held/renew", `{"lease_id": 5, "ttl_seconds": 5}`, 422, "string"},
		{"RenewTTLMissing", "POST", "/locks/held/renew", `{"lease_id": "` + held.LeaseID + `"}`, 422, "ttl_seconds"},
		{"SessionTTLTooShort", "POST", "/sessions", `{"ttl_seconds": 9}`, 422, "Session TTL"},
		{"SessionTTLTooLong", "POST", "/sessions", `{"ttl_seconds": 301}`, 422, "Session TTL"},
		{"SessionIDNotUUID", "GET", "/sessions/not-a-uuid", ``, 422, "session id"},
		{"SessionIDKeepaliveNotUUID", "POST", "/sessions/123/keepalive", ``, 422, "session id"},
		{"SessionIDDeleteNotUUID", "DELETE", "/sessions/" + strings.ToUpper(sess.SessionID) + "x", ``, 422, "session id"},
		{"ListLimitNotNumber", "GET", "/locks?limit=ten", ``, 422, "limit"},
		{"ListLimitTooBig", "GET", "/locks?limit=10001", ``, 422, "between 1 and 10000"},
		{"ListPrefixTooLong", "GET", "/locks?prefix=" + strings.Repeat("p", 257), ``, 422, "prefix"},
		{"StaleNotBool", "GET", "/locks/held?stale=maybe", ``, 422, "stale"},
		{"Oversized", "POST", "/sessions", `{"ttl_seconds": 60, "x": "` + strings.Repeat("x", 64<<10) + `"}`, 413, "64 KiB"},
		{"UnknownRoute", "GET", "/nope", ``, 404, "route"},
		{"UnknownSessionSubroute", "POST", "/sessions/" + sess.SessionID + "/renew", ``, 404, "route"},
		{"WrongMethodHealth", "POST", "/health", ``, 405, "Method"},
		{"WrongMethodList", "DELETE", "/locks", ``, 405, "Method"},
		{"WrongMethodSessions", "GET", "/sessions", ``, 405, "Method"},
		{"WrongMethodAction", "PUT", "/locks/held/acquire", ``, 405, "Method"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Raw(tc.method, tc.path, alice, []byte(tc.body))
			wantStatus(t, r, tc.status)
			var e errResp
			r.JSON(t, &e)
			if !strings.Contains(e.Error, tc.mention) {
				t.Errorf("error %q does not mention %q", e.Error, tc.mention)
			}
		})
	}
	t.Run("NothingChanged", func(t *testing.T) {
		var list struct{ Total int }
		c.Do("GET", "/locks", alice, nil).JSON(t, &list)
		r := c.Do("GET", "/locks/held", alice, nil)
		var l lockResp
		r.JSON(t, &l)
		if list.Total != 1 || l.LeaseID != held.LeaseID || !l.ExpiresAt.Equal(held.ExpiresAt) {
			t.Fatalf("state changed by bad input: %d locks, %+v", list.Total, l)
		}
	})
	t.Run("AllowHeader", func(t *testing.T) {
		if got := c.Raw("DELETE", "/locks", alice, nil).Header.Get("Allow"); got != "GET" {
			t.Fatalf("Allow %q", got)
		}
	})
	t.Run("MalformedAuthorization", func(t *testing.T) {
		for _, h := range []string{"Bearer", "Basic " + alice, "Bearer " + alice + " extra", "bearer" + alice} {
			req, _ := http.NewRequest("GET", c.Base+"/locks", nil)
			req.Header.Set("Authorization", h)
			resp, err := c.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("Authorization %q: %d", h, resp.StatusCode)
			}
		}
	})
}

func TestLockNames_RawAndEncodedSlashAreOneLock(t *testing.T) {
	_, c := apitest.Start(t)
	l := mustAcquire(t, c, "a/b/c", alice, 30)
	r, again := acquire(t, c, "a%2Fb%2Fc", alice, body{"ttl_seconds": 30})
	wantStatus(t, r, http.StatusOK)
	if again.Status != "held" || again.LeaseID != l.LeaseID || again.Name != "a/b/c" {
		t.Fatalf("encoded acquire %+v, raw %+v", again, l)
	}
	wantStatus(t, c.Do("POST", "/locks/a%2Fb/c/release", alice, body{"lease_id": l.LeaseID}), http.StatusOK)
	// A lock may be named like an action: GET reads it, POST acts on it.
	mustAcquire(t, c, "job/acquire", alice, 30)
	var got lockResp
	c.Do("GET", "/locks/job/acquire", alice, nil).JSON(t, &got)
	if got.Name != "job/acquire" || got.Status != "held" {
		t.Fatalf("GET of a lock named job/acquire: %+v", got)
	}
}

// TestAcquire_Race100Holders: 100 sessions (distinct holders) acquire one
// name at once; exactly one wins.
func TestAcquire_Race100Holders(t *testing.T) {
	_, c := apitest.Start(t)
	const holders = 100
	sessions := make([]string, holders)
	for i := range sessions {
		sessions[i] = newSession(t, c, alice, 60).SessionID
	}
	statuses := make([]int, holders)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range holders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, _ := acquire(t, c, "contended", alice, body{"ttl_seconds": 30, "session_id": sessions[i]})
			statuses[i] = r.Status
		}()
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusConflict] != holders-1 {
		t.Fatalf("statuses %v, want one 200 and %d 409", count, holders-1)
	}
}

// TestLocks_ExpireOnTime: a lock is not free before expires_at plus the
// skew margin, and is free soon after.
func TestLocks_ExpireOnTime(t *testing.T) {
	t.Parallel()
	_, c := apitest.Start(t)
	l := mustAcquire(t, c, "ttl", alice, 1)
	freeAt := l.ExpiresAt.Add(apitest.TestSkew)
	var got lockResp
	poll.Until(t, time.Until(freeAt)+2*time.Second, "bob gets the expired lock", func() bool {
		r, l := acquire(t, c, "ttl", bob, body{"ttl_seconds": 1})
		if r.Status != http.StatusOK {
			wantStatus(t, r, http.StatusConflict)
			return false
		}
		got = l
		return true
	})
	if now := time.Now(); now.Before(freeAt) {
		t.Fatalf("granted to bob at %v, before %v", now, freeAt)
	} else if late := now.Sub(freeAt); late > time.Second {
		t.Fatalf("free only %v after expires_at+skew", late)
	}
	if got.FencingToken <= l.FencingToken {
		t.Fatalf("token %d after %d", got.FencingToken, l.FencingToken)
	}
}

// TestSessions_ExpiryReleasesLocks: a session that is not kept alive ends
// on time and releases its locks; a keepalive then answers 410.
func TestSessions_ExpiryReleasesLocks(t *testing.T) {
	t.Parallel()
	_, c := apitest.Start(t)
	s := newSession(t, c, alice, 10)
	acquireInSession := c.Do("POST", "/locks/s/lock/acquire", alice, body{"ttl_seconds": 3600, "session_id": s.SessionID})
	wantStatus(t, acquireInSession, http.StatusOK)
	freeAt := s.ExpiresAt.Add(apitest.TestSkew)
	poll.Until(t, 15*time.Second, "session lock released", func() bool {
		var l lockResp
		c.Do("GET", "/locks/s/lock", bob, nil).JSON(t, &l)
		return l.Status == "available"
	})
	if now := time.Now(); now.Before(freeAt) || now.Sub(freeAt) > time.Second {
		t.Fatalf("released at %v, session expired %v (+skew)", now, s.ExpiresAt)
	}
	var st sessionResp
	c.Do("GET", "/sessions/"+s.SessionID, alice, nil).JSON(t, &st)
	if st.Active || st.LockCount != 0 {
		t.Fatalf("session %+v", st)
	}
	wantError(t, c.Do("POST", "/sessions/"+s.SessionID+"/keepalive", alice, nil), http.StatusGone, "session_expired")
}
