package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/state"
)

// The fuzz targets of this file drive the whole handler (routing,
// authentication, decoding, the state machine) in-process: a memStore
// applies commands to a state.State directly, and each input gets a fresh
// API, so inputs cannot affect one another. Seed corpora live under
// testdata/fuzz/<FuzzName>/ and are replayed by every `go test`.

// Fixtures every fuzz API starts with; the seed corpora refer to them.
const (
	fuzzToken  = "fuzz-token-0123456789"  // the static user "fuzzer", an admin
	otherToken = "other-token-0123456789" // the static user "other"
)

var (
	fuzzUser    = uuid.MustParse("f0220000-0000-4000-8000-000000000001")
	otherUser   = uuid.MustParse("f0220000-0000-4000-8000-000000000002")
	fuzzLease   = uuid.MustParse("f0220000-0000-4000-8000-00000000001e") // of "svc/db", held by fuzzer
	fuzzSession = uuid.MustParse("f0220000-0000-4000-8000-000000000005") // fuzzer's live session
	otherLease  = uuid.MustParse("f0220000-0000-4000-8000-00000000002e") // of "held/by/other"
	fuzzHook    = uuid.MustParse("f0220000-0000-4000-8000-00000000000b") // fuzzer's webhook
)

// httpsTargets accepts any absolute https URL with a host, as the real
// webhook guard does before its network checks.
type httpsTargets struct{}

func (httpsTargets) CheckURL(_ context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return errors.New("url must be an absolute https URL")
	}
	return nil
}

// fuzzCluster is a ready single-node cluster, so nothing is forwarded and
// the /cluster routes have something to answer with.
type fuzzCluster struct{ store *memStore }

func (fuzzCluster) IsReady() bool { return true }
func (fuzzCluster) Readiness() cluster.Readiness {
	return cluster.Readiness{Ready: true, Role: "leader", Leader: "n1", Commit: 1, Applied: 1}
}
func (fuzzCluster) Leader() (string, bool) { return "n1", true }
func (fuzzCluster) DialForward(context.Context, string) (net.Conn, error) {
	return nil, errors.New("a single node forwards nothing")
}
func (fuzzCluster) Digest() (uint64, string) { return 1, "digest" }

func (fuzzCluster) Status() cluster.Status {
	return cluster.Status{Leader: "n1", Term: 1, Commit: 1, Applied: 1, Self: "n1",
		Members: []cluster.Member{{ID: "n1", RaftAddr: "127.0.0.1:7000", HTTPAddr: "127.0.0.1:3000", Role: "leader", Voter: true}}}
}

func (fuzzCluster) Remove(_ context.Context, id, _ string) error {
	if id != "n1" {
		return cluster.ErrUnknownMember
	}
	return nil
}

func (c fuzzCluster) WriteSnapshot(_ context.Context, w io.Writer) error {
	c.store.mu.Lock()
	sn := c.store.st.Snapshot()
	c.store.mu.Unlock()
	_, err := sn.WriteTo(w)
	return err
}

// newFuzzAPI returns an API over a fresh state holding the fixtures.
func newFuzzAPI(t *testing.T) *API {
	t.Helper()
	st := state.New()
	res := st.Apply(state.Batch{Now: time.Now().UnixNano(), Skew: time.Second, Commands: []state.Command{
		state.SyncStaticUsers{Users: []state.StaticUser{
			{ID: fuzzUser, Login: "fuzzer", Hashes: []state.TokenHash{state.HashToken(fuzzToken)}},
			{ID: otherUser, Login: "other", Hashes: []state.TokenHash{state.HashToken(otherToken)}},
		}},
		state.CreateSession{ID: fuzzSession, UserID: fuzzUser, TTL: time.Minute},
		state.Acquire{Name: "svc/db", LeaseID: fuzzLease, HolderID: fuzzUser, TTL: time.Minute, Metadata: "fixture"},
		state.Acquire{Name: "held/by/other", LeaseID: otherLease, HolderID: otherUser, TTL: time.Minute},
		state.CreateWebhook{ID: fuzzHook, UserID: fuzzUser, URL: "https://hooks.example.com/fuzz", Events: state.AllEvents},
	}})
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("fixture: %v", r.Err)
		}
	}
	store := &memStore{st: st}
	return New(Config{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		WebhookTargets: httpsTargets{}, Cluster: fuzzCluster{store}, Admins: []uuid.UUID{fuzzUser}})
}

// checkAnswer asserts what every answer must satisfy: no 5xx, an
// X-Request-Id, and a JSON body with a non-empty "error" for every error.
func checkAnswer(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: %d %s", what, w.Code, w.Body)
	}
	if w.Header().Get("X-Request-Id") == "" {
		t.Fatalf("%s: no X-Request-Id", what)
	}
	if w.Code >= 400 {
		var e struct {
			Error *string `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == nil || *e.Error == "" {
			t.Fatalf("%s: %d without a JSON error body: %q", what, w.Code, w.Body)
		}
	}
}

// validMethod is net/http's rule for a request method: an RFC 7230 token.
// The server refuses any other request line before the API sees it.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// FuzzRouting proves that for any method and request target a server
// could hand over (a token method, a target url.ParseRequestURI accepts,
// no spaces), the authenticated API never panics, never answers 5xx,
// always sets X-Request-Id, answers every error with a JSON "error", and
// only answers 200 about a lock whose name is valid.
func FuzzRouting(f *testing.F) {
	f.Add("GET", "/locks/svc/db")
	f.Add("POST", "/locks/a%2Fb/acquire")
	f.Fuzz(func(t *testing.T, method, target string) {
		if !validMethod(method) || strings.ContainsAny(target, " \t") {
			return
		}
		if _, err := url.ParseRequestURI(target); err != nil {
			return
		}
		r := httptest.NewRequest(method, target, nil)
		r.Header.Set("Authorization", "Bearer "+fuzzToken)
		w := httptest.NewRecorder()
		newFuzzAPI(t).ServeHTTP(w, r)
		what := method + " " + target
		checkAnswer(t, what, w)
		if w.Code == http.StatusOK && strings.HasPrefix(r.URL.EscapedPath(), "/locks/") {
			var l struct {
				Name *string `json:"name"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &l); err != nil || l.Name == nil {
				t.Fatalf("%s: 200 without a lock name: %s", what, w.Body)
			}
			if err := state.ValidLockName(*l.Name); err != nil {
				t.Fatalf("%s: 200 about invalid lock name %q: %v", what, *l.Name, err)
			}
		}
	})
}

// bodyRoutes are the routes that take a request body, each aimed at a
// fixture so that a good body can succeed.
var bodyRoutes = []struct{ method, path string }{
	{"POST", "/locks/fuzz/new/acquire"},
	{"POST", "/locks/svc/db/renew"},
	{"POST", "/locks/svc/db/release"},
	{"POST", "/sessions"},
	{"POST", "/sessions/" + fuzzSession.String() + "/keepalive"},
	{"POST", "/webhooks"},
}

// isJSONObject reports whether b is exactly one JSON object, surrounded
// by optional whitespace. (A bare null once passed as an empty object; its
// seed stays in the corpus.)
func isJSONObject(b []byte) bool {
	t := bytes.TrimSpace(b)
	return json.Valid(t) && len(t) > 0 && t[0] == '{'
}

// FuzzRequestBodies proves that for every body-taking route (route picks
// one of bodyRoutes) an arbitrary body never causes a panic or a 5xx, that
// errors are JSON, and that a 2xx comes only for a body that is one JSON
// object; the exceptions are the documented
// ones: POST /sessions may have no body at all, and keepalive ignores its
// body (answering as for none).
func FuzzRequestBodies(f *testing.F) {
	f.Add(uint8(0), []byte(`{"ttl_seconds": 30}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := bodyRoutes[int(route)%len(bodyRoutes)]
		r := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+fuzzToken)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		newFuzzAPI(t).ServeHTTP(w, r)
		what := rt.method + " " + rt.path
		checkAnswer(t, what, w)
		ok := w.Code >= 200 && w.Code < 300
		switch {
		case strings.HasSuffix(rt.path, "/keepalive"):
			if !ok && len(body) <= maxBody {
				t.Fatalf("%s: %d for a live session: %s", what, w.Code, w.Body)
			}
		case rt.path == "/sessions" && len(bytes.TrimSpace(body)) == 0:
		case ok && !isJSONObject(body):
			t.Fatalf("%s: %d for body %q, which is not a JSON object: %s", what, w.Code, body, w.Body)
		}
	})
}

// bearerAccepts is the documented rule, written independently of
// auth.BearerToken: the scheme "Bearer" in any case, one space, any
// further spaces, then exactly a configured token.
func bearerAccepts(v string) bool {
	if len(v) < 7 || v[6] != ' ' {
		return false
	}
	for i, c := range []byte("bearer") {
		if v[i]|0x20 != c {
			return false
		}
	}
	tok := strings.TrimLeft(v[7:], " ")
	return tok == fuzzToken || tok == otherToken
}

// FuzzAuthorizationHeader proves that an authenticated route answers 200
// exactly when the Authorization header is "Bearer <a configured token>"
// up to the documented leniency (case-insensitive scheme, extra spaces
// after it), and 401 with a JSON error otherwise; never 5xx. The value is
// what a server would hand over: no control characters but tab, and no
// surrounding blanks (net/textproto trims them).
func FuzzAuthorizationHeader(f *testing.F) {
	f.Add("Bearer " + fuzzToken)
	f.Fuzz(func(t *testing.T, header string) {
		for i := 0; i < len(header); i++ {
			if c := header[i]; (c < ' ' && c != '\t') || c == 0x7f {
				return
			}
		}
		header = strings.Trim(header, " \t")
		r := httptest.NewRequest("GET", "/locks?limit=1", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		w := httptest.NewRecorder()
		newFuzzAPI(t).ServeHTTP(w, r)
		checkAnswer(t, "Authorization: "+header, w)
		want := http.StatusUnauthorized
		if bearerAccepts(header) {
			want = http.StatusOK
		}
		if w.Code != want {
			t.Fatalf("Authorization %q: %d, want %d: %s", header, w.Code, want, w.Body)
		}
	})
}
