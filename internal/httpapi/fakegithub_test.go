package httpapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeGitHub implements the slice of GitHub that sign-in uses: the
// authorize page (which approves at once and redirects back), the code
// exchange, /user and /user/orgs. Nothing reaches the internet.
type fakeGitHub struct {
	*httptest.Server
	mu       sync.Mutex
	next     ghUser           // who approves the next authorize request
	accounts map[int64]ghUser // GitHub ID → the account as GitHub has it now
	codes    map[string]int64 // code → account
	tokens   map[string]int64 // access token (grant) → account
	seq      int
	fail     int           // answer every request with this status when set
	delay    time.Duration // answer every request this late
	gate     chan struct{} // when set, every request waits until it is closed
	held     string        // with gate: only requests with this access token wait
	calls    int           // requests to /user, answered or failed
	ever     []string      // every access token issued, revoked ones too
}

type ghUser struct {
	ID    int64
	Login string
	Orgs  []ghOrg
}

type ghOrg struct {
	ID    int64
	Login string
}

const (
	ghClientID     = "test-client-id"
	ghClientSecret = "test-client-secret"
)

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{accounts: map[int64]ghUser{}, codes: map[string]int64{}, tokens: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", f.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", f.exchange)
	mux.HandleFunc("GET /user", f.user)
	mux.HandleFunc("GET /user/orgs", f.orgs)
	f.Server = httptest.NewServer(f.faults(mux))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeGitHub) set(fn func(f *fakeGitHub)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// hold makes GitHub stop answering until release is called: requests
// wait, as they would for a GitHub that hangs.
func (f *fakeGitHub) hold() (release func()) { return f.holdGrant("") }

// holdGrant is hold for the requests made with one access token only
// ("": all).
func (f *fakeGitHub) holdGrant(grant string) (release func()) {
	gate := make(chan struct{})
	f.set(func(f *fakeGitHub) { f.gate, f.held = gate, grant })
	return sync.OnceFunc(func() {
		f.set(func(f *fakeGitHub) { f.gate, f.held = nil, "" })
		close(gate)
	})
}

func (f *fakeGitHub) faults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		fail, delay, gate := f.fail, f.delay, f.gate
		if f.held != "" && r.Header.Get("Authorization") != "Bearer "+f.held {
			gate = nil
		}
		if r.URL.Path == "/user" {
			f.calls++
		}
		f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if fail != 0 && r.URL.Path != "/login/oauth/authorize" {
			http.Error(w, "boom", fail)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *fakeGitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != ghClientID {
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.seq++
	code := "code-" + strconv.Itoa(f.seq)
	f.codes[code] = f.next.ID
	f.accounts[f.next.ID] = f.next
	f.mu.Unlock()
	back := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back, http.StatusFound)
}

func (f *fakeGitHub) exchange(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	id, ok := f.codes[r.Form.Get("code")]
	delete(f.codes, r.Form.Get("code"))
	if ok && r.Form.Get("client_secret") == ghClientSecret {
		f.seq++
		tok := "gho_grant-" + strconv.Itoa(f.seq)
		f.tokens[tok] = id
		f.ever = append(f.ever, tok)
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "token_type": "bearer"})
		return
	}
	f.mu.Unlock()
	// GitHub answers a bad code with 200 and an error object.
	json.NewEncoder(w).Encode(map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
}

func (f *fakeGitHub) account(r *http.Request) (ghUser, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.tokens[r.Header.Get("Authorization")[len("Bearer "):]]
	return f.accounts[id], ok
}

// change changes account id as GitHub has it (a rename, a membership).
func (f *fakeGitHub) change(id int64, fn func(u *ghUser)) {
	f.set(func(f *fakeGitHub) {
		u := f.accounts[id]
		fn(&u)
		f.accounts[id] = u
	})
}

// revoke makes GitHub refuse every grant of account id, as when its user
// revokes the app's authorization.
func (f *fakeGitHub) revoke(id int64) {
	f.set(func(f *fakeGitHub) { maps.DeleteFunc(f.tokens, func(_ string, of int64) bool { return of == id }) })
}

// grants are the access tokens issued so far, which must never show.
func (f *fakeGitHub) grants() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Collect(maps.Keys(f.tokens))
}

// issued are the access tokens issued so far, revoked ones too.
func (f *fakeGitHub) issued() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ever)
}

// userCalls is how many times /user was asked.
func (f *fakeGitHub) userCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeGitHub) user(w http.ResponseWriter, r *http.Request) {
	u, ok := f.account(r)
	if !ok {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "avatar_url": "https://avatars.example/" + u.Login})
}

func (f *fakeGitHub) orgs(w http.ResponseWriter, r *http.Request) {
	u, ok := f.account(r)
	if !ok {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
		return
	}
	orgs := []map[string]any{}
	for _, o := range u.Orgs {
		orgs = append(orgs, map[string]any{"id": o.ID, "login": o.Login})
	}
	json.NewEncoder(w).Encode(orgs)
}
