package apitest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/octostore/octostore/api"
	"github.com/octostore/octostore/internal/apitest"
)

// The contract checking every test relies on is itself tested here: a
// response the served openapi.yaml forbids must be caught.

// TestServedSpec_JudgesResponses validates a real acquire answer against
// the spec the server serves, then the same answer without its fencing
// token, which the spec requires.
func TestServedSpec_JudgesResponses(t *testing.T) {
	srv := apitest.StartServer(t, "")
	base := "http://" + srv.Addr()
	resp, err := http.Get(base + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := openapi3.NewLoader().LoadFromData(spec)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", base+"/locks/contract/acquire", strings.NewReader(`{"ttl_seconds":30}`))
	req.Header.Set("Authorization", "Bearer "+apitest.AliceToken)
	req.Header.Set("Content-Type", "application/json")
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	input := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	validate := func(b []byte) error {
		return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: input, Status: got.StatusCode, Header: got.Header,
			Body: io.NopCloser(bytes.NewReader(b)), Options: &openapi3filter.Options{IncludeResponseStatus: true}})
	}
	if err := validate(body); err != nil {
		t.Fatalf("the server's own answer violates its spec: %v\n%s", err, body)
	}
	if err := validate(bytes.Replace(body, []byte(`"fencing_token"`), []byte(`"fencing"`), 1)); err == nil {
		t.Fatal("an acquire answer without fencing_token passed the served spec")
	}
}

// TestClient_ReportsViolations: the test client fails a test whose server
// answers outside the spec.
func TestClient_ReportsViolations(t *testing.T) {
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/openapi.yaml" {
			w.Write(api.Spec)
			return
		}
		w.Header().Set("X-Request-Id", "r-1")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"acquired","name":"x"}`) // no lease, token or expiry
	}))
	defer bad.Close()
	rec := &recordingT{TB: t}
	apitest.New(rec, bad.URL).Do("POST", "/locks/x/acquire", apitest.AliceToken, map[string]any{"ttl_seconds": 30})
	if !strings.Contains(rec.failures(), "violates the spec") {
		t.Fatalf("a response missing required fields was not reported; reported: %q", rec.failures())
	}
}

// recordingT collects failures instead of failing the enclosing test.
type recordingT struct {
	testing.TB
	mu  sync.Mutex
	out []string
}

func (r *recordingT) Helper() {}

func (r *recordingT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.out = append(r.out, fmt.Sprintf(format, args...))
}

func (r *recordingT) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.out, "\n")
}
