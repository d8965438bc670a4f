package httpapi

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/state"
)

// directStore applies commands to a State in the calling goroutine: it
// isolates the HTTP layer's own cost from raft's.
type directStore struct{ st *state.State }

func (d *directStore) Apply(_ context.Context, cmd state.Command) (state.Result, error) {
	return d.st.Apply(state.Batch{Now: time.Now().UnixNano(), Skew: time.Second, Commands: []state.Command{cmd}})[0], nil
}

func (d *directStore) Read(_ context.Context, _ bool, fn func(*state.State, int64)) error {
	fn(d.st, time.Now().UnixNano())
	return nil
}

// BenchmarkAPI_AcquireRelease measures the handler path of one
// acquire+release cycle (routing, auth, JSON, responses) without raft.
func BenchmarkAPI_AcquireRelease(b *testing.B) {
	st := state.New()
	st.Apply(state.Batch{Now: time.Now().UnixNano(), Commands: []state.Command{state.SyncStaticUsers{
		Users: []state.StaticUser{{ID: [16]byte{1}, Login: "bench", Hashes: []state.TokenHash{state.HashToken("tok")}}}}}})
	api := New(Config{Store: &directStore{st}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	acquireBody := []byte(`{"ttl_seconds": 60}`)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		name := "/locks/bench/" + strconv.Itoa(i)
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", name+"/acquire", bytes.NewReader(acquireBody))
		r.Header.Set("Authorization", "Bearer tok")
		api.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("acquire: %d %s", w.Code, w.Body)
		}
		lease := w.Body.Bytes()[bytes.Index(w.Body.Bytes(), []byte(`"lease_id":"`))+12:][:36]
		w = httptest.NewRecorder()
		r = httptest.NewRequest("POST", name+"/release", bytes.NewReader([]byte(`{"lease_id":"`+string(lease)+`"}`)))
		r.Header.Set("Authorization", "Bearer tok")
		api.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("release: %d %s", w.Code, w.Body)
		}
	}
}
