package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/octostore/octostore/internal/state"
)

// BenchmarkAPI_AcquireRelease measures the handler path of one
// acquire+release cycle (routing, auth, JSON, responses) without raft.
func BenchmarkAPI_AcquireRelease(b *testing.B) {
	st := state.New()
	st.Apply(state.Batch{Now: time.Now().UnixNano(), Commands: []state.Command{state.SyncStaticUsers{
		Users: []state.StaticUser{{ID: [16]byte{1}, Login: "bench", Hashes: []state.TokenHash{state.HashToken("tok")}}}}}})
	api := NewMemAPI(st)
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
