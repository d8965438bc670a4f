package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/apitest"
)

// TestWholeNumbers_IntegralSpellingsAccepted: every integer field takes
// the spellings of a whole number that JSON encoders produce (30.0 from
// Python, 1e2, 3.0E+1), and means the same number by them.
func TestWholeNumbers_IntegralSpellingsAccepted(t *testing.T) {
	_, c := apitest.Start(t)
	for i, ttl := range []string{"30", "30.0", "3e1", "3.0E+1", "300e-1", "0.3e2", "30.000"} {
		name := "n/" + string(rune('a'+i))
		before := time.Now()
		r := c.Raw("POST", "/locks/"+name+"/acquire", alice, []byte(`{"ttl_seconds": `+ttl+`, "wait_seconds": 0.0}`))
		wantStatus(t, r, http.StatusOK)
		var l lockResp
		r.JSON(t, &l)
		if d := l.ExpiresAt.Sub(before); d < 29*time.Second || d > 31*time.Second {
			t.Errorf("ttl_seconds %s: expires in %v, want 30s", ttl, d)
		}
		r = c.Raw("POST", "/locks/"+name+"/renew", alice, []byte(`{"lease_id": "`+l.LeaseID+`", "ttl_seconds": 6e1}`))
		wantStatus(t, r, http.StatusOK)
	}
	r := c.Raw("POST", "/sessions", alice, []byte(`{"ttl_seconds": 1e2}`))
	wantStatus(t, r, http.StatusCreated)
	var s sessionResp
	r.JSON(t, &s)
	if s.KeepaliveIntervalSecs != 50 {
		t.Errorf("session of ttl 1e2: keepalive interval %d, want 50", s.KeepaliveIntervalSecs)
	}
	var page struct {
		Total     int     `json:"total"`
		NextAfter *string `json:"next_after"`
	}
	c.Do("GET", "/locks?limit=2", alice, nil).JSON(t, &page)
	c.Raw("GET", "/locks?limit=2.0", alice, nil).JSON(t, &page)
	if page.Total != 2 || page.NextAfter == nil {
		t.Errorf("limit=2.0: %+v", page)
	}
	c.Raw("GET", "/locks?limit=1e1", alice, nil).JSON(t, &page)
	if page.Total != 7 {
		t.Errorf("limit=1e1: %d locks, want all 7", page.Total)
	}
}

// TestWholeNumbers_Refused: a fractional number is not a whole number; an
// out-of-range one, however large, is answered with the field's bounds,
// never as "not an integer"; nothing is written either way.
func TestWholeNumbers_Refused(t *testing.T) {
	_, c := apitest.Start(t)
	held := mustAcquire(t, c, "held", alice, 60)
	huge := "999999999999999999999"
	renew := func(ttl string) string { return `{"lease_id": "` + held.LeaseID + `", "ttl_seconds": ` + ttl + `}` }
	cases := []struct {
		name, method, path, body, mention string
	}{
		{"TTLFraction", "POST", "/locks/x/acquire", `{"ttl_seconds": 30.5}`, "ttl_seconds must be a whole number"},
		{"TTLTinyFraction", "POST", "/locks/x/acquire", `{"ttl_seconds": 30.0000000000000000001}`, "whole number"},
		{"TTLNegativeExponent", "POST", "/locks/x/acquire", `{"ttl_seconds": 1e-1}`, "whole number"},
		{"TTLHugeInteger", "POST", "/locks/x/acquire", `{"ttl_seconds": ` + huge + `}`, "between 1 and 3600"},
		{"TTLHugeNegative", "POST", "/locks/x/acquire", `{"ttl_seconds": -` + huge + `}`, "between 1 and 3600"},
		{"TTLHugeExponent", "POST", "/locks/x/acquire", `{"ttl_seconds": 1e999999999999}`, "between 1 and 3600"},
		{"TTLJustOver", "POST", "/locks/x/acquire", `{"ttl_seconds": 3.601e3}`, "between 1 and 3600"},
		{"TTLZeroSpelled", "POST", "/locks/x/acquire", `{"ttl_seconds": 0.0e5}`, "between 1 and 3600"},
		{"TTLString", "POST", "/locks/x/acquire", `{"ttl_seconds": "30"}`, "ttl_seconds must be an integer"},
		{"TTLBool", "POST", "/locks/x/acquire", `{"ttl_seconds": true}`, "ttl_seconds must be an integer"},
		{"WaitFraction", "POST", "/locks/x/acquire", `{"ttl_seconds": 5, "wait_seconds": 0.5}`, "wait_seconds must be a whole number"},
		{"WaitHuge", "POST", "/locks/x/acquire", `{"ttl_seconds": 5, "wait_seconds": ` + huge + `}`, "between 0 and 300"},
		{"RenewFraction", "POST", "/locks/held/renew", renew("59.9"), "ttl_seconds must be a whole number"},
		{"RenewHuge", "POST", "/locks/held/renew", renew(huge), "between 1 and 3600"},
		{"SessionFraction", "POST", "/sessions", `{"ttl_seconds": 60.5}`, "ttl_seconds must be a whole number"},
		{"SessionHuge", "POST", "/sessions", `{"ttl_seconds": ` + huge + `}`, "between 10 and 300"},
		{"LimitFraction", "GET", "/locks?limit=2.5", ``, "limit must be a whole number"},
		{"LimitHuge", "GET", "/locks?limit=" + huge, ``, "between 1 and 10000"},
		{"LimitZero", "GET", "/locks?limit=0.0", ``, "between 1 and 10000"},
		{"LimitWord", "GET", "/locks?limit=ten", ``, "limit must be an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := wantError(t, c.Raw(tc.method, tc.path, alice, []byte(tc.body)), http.StatusUnprocessableEntity, "validation_error")
			if !strings.Contains(e.Error, tc.mention) {
				t.Errorf("error %q does not say %q", e.Error, tc.mention)
			}
		})
	}
	var x lockResp
	c.Do("GET", "/locks/x", alice, nil).JSON(t, &x)
	var l lockResp
	c.Do("GET", "/locks/held", alice, nil).JSON(t, &l)
	if x.Status != "available" || !l.ExpiresAt.Equal(held.ExpiresAt) {
		t.Fatalf("refused input changed state: x %+v, held %+v", x, l)
	}
}
