package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

const testGrant = "gho_secret-grant-value"

// fakeAPI answers /user and /user/orgs for testGrant: status, when set,
// answers everything; orgs is the full list, served 100 a page.
func fakeAPI(t *testing.T, status *int, orgs []map[string]any) *GitHub {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case *status != 0:
			http.Error(w, `{"message":"no"}`, *status)
		case r.Header.Get("Authorization") != "Bearer "+testGrant:
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		case r.URL.Path == "/user":
			json.NewEncoder(w).Encode(map[string]any{"id": 42, "login": "octocat"})
		case r.URL.Path == "/user/orgs":
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			lo, hi := min((page-1)*100, len(orgs)), min(page*100, len(orgs))
			json.NewEncoder(w).Encode(orgs[lo:hi])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	g, err := NewGitHub(GitHubConfig{ClientID: "id", ClientSecret: "s", BaseURL: srv.URL, APIURL: srv.URL,
		PublicURL: "http://octostore.test", AllowAnyUser: true})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestAccount_OrgsByID: every page of organizations is read, with their
// numeric IDs, sorted by ID without repeats.
func TestAccount_OrgsByID(t *testing.T) {
	var orgs []map[string]any
	for i := 150; i >= 1; i-- { // two pages, in reverse order, one repeated
		orgs = append(orgs, map[string]any{"id": i, "login": "org-" + strconv.Itoa(i)})
	}
	orgs = append(orgs, map[string]any{"id": 7, "login": "org-7"})
	status := 0
	id, err := fakeAPI(t, &status, orgs).Account(t.Context(), testGrant)
	if err != nil {
		t.Fatal(err)
	}
	if id.GitHubID != 42 || id.Login != "octocat" || string(id.Grant) != testGrant || len(id.Orgs) != 150 {
		t.Fatalf("identity %+v (%d orgs)", id, len(id.Orgs))
	}
	for i, o := range id.Orgs {
		if o.ID != int64(i+1) || o.Login != "org-"+strconv.Itoa(i+1) {
			t.Fatalf("org %d is %+v", i, o)
		}
	}
}

// TestAccount_Failures: only GitHub's 401 says the grant is revoked; a
// 5xx or an unusable organization is a GitHub failure that says nothing
// about the grant.
func TestAccount_Failures(t *testing.T) {
	status := 0
	g := fakeAPI(t, &status, []map[string]any{{"id": 0, "login": "no-id"}})
	if _, err := g.Account(t.Context(), "gho_someone-else"); !errors.Is(err, ErrGrantRevoked) || !errors.Is(err, ErrGitHub) {
		t.Errorf("401: %v", err)
	}
	if _, err := g.Account(t.Context(), testGrant); errors.Is(err, ErrGrantRevoked) || !errors.Is(err, ErrGitHub) ||
		!strings.Contains(err.Error(), "organization") {
		t.Errorf("org without an ID: %v", err)
	}
	for _, code := range []int{http.StatusInternalServerError, http.StatusForbidden, http.StatusBadGateway} {
		status = code
		if _, err := g.Account(t.Context(), testGrant); errors.Is(err, ErrGrantRevoked) || !errors.Is(err, ErrGitHub) ||
			!strings.Contains(err.Error(), strconv.Itoa(code)) {
			t.Errorf("%d: %v", code, err)
		}
	}
}

// TestGrant_NeverPrints: a grant formatted by fmt, slog or an encoder,
// alone or inside an Identity, shows "[redacted]", never its value.
func TestGrant_NeverPrints(t *testing.T) {
	id := Identity{GitHubID: 1, Login: "octocat", Grant: testGrant}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "grant", id.Grant, "id", id)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "grant", id.Grant, "id", id)
	js, _ := json.Marshal(id)
	out := fmt.Sprintf("%v %+v %#v %s %q %v", id, id, id, id.Grant, id.Grant, fmt.Errorf("e: %v", id.Grant)) +
		logged.String() + string(js)
	if strings.Contains(out, "secret-grant") || !strings.Contains(out, redacted) {
		t.Fatalf("grant shown: %s", out)
	}
}
