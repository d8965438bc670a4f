package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/httpapi"
)

// A request another node forwarded here is answered 503 when this node no
// longer leads: never passed on a second time, and never answered from a
// state that may be behind (a token the new leader issued would be 401
// here, a lock it granted free).
func TestNodeHandler_DeposedLeaderRefuses(t *testing.T) {
	dials := make(chan string, 4)
	a := httpapi.NewDeposedAPI(dials)
	srv := httptest.NewServer(a.NodeHandler())
	defer srv.Close()
	c := apitest.New(t, srv.URL)
	r := c.Do("POST", "/locks/a/acquire", apitest.AliceToken, map[string]any{"ttl_seconds": 30})
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("forwarded acquire on a deposed leader: %d %s", r.Status, r.Body)
	}
	select {
	case id := <-dials:
		t.Fatalf("a forwarded request was forwarded again, to %s", id)
	default:
	}
	// The same request from a client is forwarded to the leader it knows.
	direct := httptest.NewServer(a)
	defer direct.Close()
	apitest.New(t, direct.URL).Do("POST", "/locks/a/acquire", apitest.AliceToken, map[string]any{"ttl_seconds": 30})
	if id := <-dials; id != "n1" {
		t.Fatalf("forwarded to %q", id)
	}
}
