package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/apitest"
)

// The contract tests cover every status code the seed lists for every
// implemented route; the client validates each exchange against the
// served openapi.yaml.

func TestContract_Acquire(t *testing.T) {
	_, c := apitest.Start(t)
	first := mustAcquire(t, c, "svc/db", alice, 30)
	if first.Status != "acquired" || first.Holder != "alice" || first.FencingToken == 0 {
		t.Fatalf("first acquire: %+v", first)
	}
	_, again := acquire(t, c, "svc/db", alice, body{"ttl_seconds": 60})
	if again.Status != "held" || again.LeaseID != first.LeaseID || again.FencingToken != first.FencingToken {
		t.Fatalf("re-acquire: %+v, first %+v", again, first)
	}
	r, _ := acquire(t, c, "svc/db", bob, body{"ttl_seconds": 30})
	e := wantError(t, r, http.StatusConflict, "lock_held")
	if e.Lock.Name != "svc/db" || e.Lock.Holder != "alice" || !e.Lock.ExpiresAt.Equal(again.ExpiresAt) {
		t.Fatalf("conflict body: %+v", e)
	}
	wantError(t, c.Do("POST", "/locks/svc/db/acquire", "", body{"ttl_seconds": 30}), http.StatusUnauthorized, "unauthorized")
	wantError(t, c.Do("POST", "/locks/svc/db/acquire", "wrong-token", body{"ttl_seconds": 30}), http.StatusUnauthorized, "unauthorized")
	wantError(t, c.Raw("POST", "/locks/svc/db/acquire", alice, []byte(`{"ttl_seconds": 0}`)), http.StatusUnprocessableEntity, "validation_error")
	big := `{"ttl_seconds": 30, "metadata": "` + strings.Repeat("x", 70<<10) + `"}`
	wantError(t, c.Raw("POST", "/locks/x/acquire", alice, []byte(big)), http.StatusRequestEntityTooLarge, "payload_too_large")
}

func TestContract_Renew(t *testing.T) {
	_, c := apitest.Start(t)
	l := mustAcquire(t, c, "r", alice, 5)
	r := c.Do("POST", "/locks/r/renew", alice, body{"lease_id": l.LeaseID, "ttl_seconds": 120})
	wantStatus(t, r, http.StatusOK)
	var renewed lockResp
	r.JSON(t, &renewed)
	if renewed.Status != "held" || renewed.FencingToken != l.FencingToken || !renewed.ExpiresAt.After(l.ExpiresAt) {
		t.Fatalf("renewed %+v from %+v", renewed, l)
	}
	wantError(t, c.Do("POST", "/locks/r/renew", bob, body{"lease_id": l.LeaseID, "ttl_seconds": 5}), http.StatusNotFound, "lock_not_found")
	wantError(t, c.Do("POST", "/locks/r/renew", alice, body{"lease_id": uuid.NewString(), "ttl_seconds": 5}), http.StatusNotFound, "lock_not_found")
	wantError(t, c.Do("POST", "/locks/r/renew", "", body{"lease_id": l.LeaseID, "ttl_seconds": 5}), http.StatusUnauthorized, "unauthorized")
	wantError(t, c.Raw("POST", "/locks/r/renew", alice, []byte(`{"lease_id": "nope", "ttl_seconds": 5}`)), http.StatusUnprocessableEntity, "validation_error")
}

func TestContract_Release(t *testing.T) {
	_, c := apitest.Start(t)
	l := mustAcquire(t, c, "rel", alice, 30)
	wantError(t, c.Do("POST", "/locks/rel/release", bob, body{"lease_id": l.LeaseID}), http.StatusNotFound, "lock_not_found")
	wantError(t, c.Do("POST", "/locks/rel/release", "", body{"lease_id": l.LeaseID}), http.StatusUnauthorized, "unauthorized")
	wantError(t, c.Raw("POST", "/locks/rel/release", alice, []byte(`{}`)), http.StatusUnprocessableEntity, "validation_error")
	r := c.Do("POST", "/locks/rel/release", alice, body{"lease_id": l.LeaseID})
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.Body), `"status":"released"`) {
		t.Fatalf("release body %s", r.Body)
	}
	wantError(t, c.Do("POST", "/locks/rel/release", alice, body{"lease_id": l.LeaseID}), http.StatusNotFound, "lock_not_found")
	next := mustAcquire(t, c, "rel", bob, 30)
	if next.FencingToken <= l.FencingToken {
		t.Fatalf("token %d after %d", next.FencingToken, l.FencingToken)
	}
}

func TestContract_Status(t *testing.T) {
	_, c := apitest.Start(t)
	r := c.Do("GET", "/locks/free/one", alice, nil)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.Body), `"status":"available"`) {
		t.Fatalf("free lock: %s", r.Body)
	}
	l := mustAcquire(t, c, "held/one", alice, 30)
	r = c.Do("GET", "/locks/held/one", bob, nil)
	wantStatus(t, r, http.StatusOK)
	var got lockResp
	r.JSON(t, &got)
	if got.Status != "held" || got.LeaseID != l.LeaseID || got.Holder != "alice" || !got.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("status %+v, acquired %+v", got, l)
	}
	wantStatus(t, c.Do("GET", "/locks/held/one?stale=true", bob, nil), http.StatusOK)
	wantError(t, c.Do("GET", "/locks/held/one", "", nil), http.StatusUnauthorized, "unauthorized")
}

func TestContract_List(t *testing.T) {
	_, c := apitest.Start(t)
	for _, n := range []string{"svc/b", "svc/a", "svc/c", "other"} {
		mustAcquire(t, c, n, alice, 30)
	}
	var list struct {
		Locks []struct {
			Name, Status, HolderID, Holder string
			FencingToken                   uint64 `json:"fencing_token"`
		}
		Total     int
		Prefix    *string
		NextAfter *string `json:"next_after"`
	}
	r := c.Do("GET", "/locks?prefix=svc/&limit=2", bob, nil)
	wantStatus(t, r, http.StatusOK)
	r.JSON(t, &list)
	if list.Total != 2 || list.Locks[0].Name != "svc/a" || list.Locks[1].Name != "svc/b" ||
		*list.Prefix != "svc/" || list.NextAfter == nil || *list.NextAfter != "svc/b" {
		t.Fatalf("page 1: %s", r.Body)
	}
	r = c.Do("GET", "/locks?prefix=svc/&limit=2&after=svc/b", bob, nil)
	r.JSON(t, &list)
	if list.Total != 1 || list.Locks[0].Name != "svc/c" || list.NextAfter != nil {
		t.Fatalf("page 2: %s", r.Body)
	}
	r = c.Do("GET", "/locks", bob, nil)
	r.JSON(t, &list)
	if list.Total != 4 || list.Prefix != nil {
		t.Fatalf("all: %s", r.Body)
	}
	wantError(t, c.Do("GET", "/locks", "", nil), http.StatusUnauthorized, "unauthorized")
	wantError(t, c.Raw("GET", "/locks?limit=0", alice, nil), http.StatusUnprocessableEntity, "validation_error")
}

func TestContract_Sessions(t *testing.T) {
	_, c := apitest.Start(t)
	s := newSession(t, c, alice, 30)
	if s.KeepaliveIntervalSecs != 15 {
		t.Fatalf("keepalive interval %d", s.KeepaliveIntervalSecs)
	}
	r := c.Do("POST", "/sessions", alice, body{})
	wantStatus(t, r, http.StatusCreated)
	var def sessionResp
	r.JSON(t, &def)
	if def.KeepaliveIntervalSecs != 30 {
		t.Fatalf("default TTL interval %d", def.KeepaliveIntervalSecs)
	}
	wantError(t, c.Do("POST", "/sessions", "", body{}), http.StatusUnauthorized, "unauthorized")

	r = c.Do("POST", "/sessions/"+s.SessionID+"/keepalive", alice, nil)
	wantStatus(t, r, http.StatusOK)
	var ka sessionResp
	r.JSON(t, &ka)
	if ka.SessionID != s.SessionID || ka.ExpiresAt.Before(s.ExpiresAt) {
		t.Fatalf("keepalive %+v after %+v", ka, s)
	}
	wantError(t, c.Do("POST", "/sessions/"+s.SessionID+"/keepalive", bob, nil), http.StatusNotFound, "session_not_found")
	wantError(t, c.Do("POST", "/sessions/"+uuid.NewString()+"/keepalive", alice, nil), http.StatusNotFound, "session_not_found")
	wantError(t, c.Do("POST", "/sessions/"+s.SessionID+"/keepalive", "", nil), http.StatusUnauthorized, "unauthorized")

	mustAcquire(t, c, "with-session", alice, 30)
	l, _ := acquire(t, c, "in-session", alice, body{"ttl_seconds": 30, "session_id": s.SessionID})
	wantStatus(t, l, http.StatusOK)
	r = c.Do("GET", "/sessions/"+s.SessionID, alice, nil)
	wantStatus(t, r, http.StatusOK)
	var st sessionResp
	r.JSON(t, &st)
	if !st.Active || st.LockCount != 1 || st.UserID == "" {
		t.Fatalf("status %+v", st)
	}
	wantError(t, c.Do("GET", "/sessions/"+s.SessionID, bob, nil), http.StatusNotFound, "session_not_found")
	wantError(t, c.Do("GET", "/sessions/"+s.SessionID, "", nil), http.StatusUnauthorized, "unauthorized")

	wantError(t, c.Do("DELETE", "/sessions/"+s.SessionID, bob, nil), http.StatusNotFound, "session_not_found")
	wantError(t, c.Do("DELETE", "/sessions/"+s.SessionID, "", nil), http.StatusUnauthorized, "unauthorized")
	wantStatus(t, c.Do("DELETE", "/sessions/"+s.SessionID, alice, nil), http.StatusNoContent)
	wantStatus(t, c.Do("DELETE", "/sessions/"+s.SessionID, alice, nil), http.StatusNoContent) // idempotent
	wantError(t, c.Do("DELETE", "/sessions/"+uuid.NewString(), alice, nil), http.StatusNotFound, "session_not_found")

	r = c.Do("GET", "/sessions/"+s.SessionID, alice, nil)
	r.JSON(t, &st)
	if st.Active || st.LockCount != 0 {
		t.Fatalf("after delete: %+v", st)
	}
	if !strings.Contains(string(c.Do("GET", "/locks/in-session", alice, nil).Body), "available") {
		t.Fatal("session lock survived DELETE")
	}
	wantError(t, c.Do("POST", "/sessions/"+s.SessionID+"/keepalive", alice, nil), http.StatusGone, "session_expired")
}

func TestContract_System(t *testing.T) {
	_, c := apitest.Start(t)
	r := c.Do("GET", "/health", "", nil)
	if r.Status != http.StatusOK || string(r.Body) != "OK" {
		t.Fatalf("health: %d %q", r.Status, r.Body)
	}
	r = c.Do("GET", "/openapi.yaml", "", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "openapi: 3.0.3") {
		t.Fatalf("spec: %d", r.Status)
	}
}
