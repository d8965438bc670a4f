package httpapi

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/cluster"
	"github.com/octostore/octostore/internal/state"
)

// refusingStore answers CancelWait with cancel and refuses Release, as a
// leader lost between the two commits would.
type refusingStore struct {
	*memStore
	cancel   state.Result
	cancelEr error
}

func (s refusingStore) Apply(_ context.Context, cmd state.Command) (state.Result, error) {
	switch cmd.(type) {
	case state.CancelWait:
		return s.cancel, s.cancelEr
	case state.Release:
		return state.Result{}, cluster.ErrOutcomeUnknown
	}
	panic("unexpected command")
}

// TestStopWaiting_GoneClientFailuresAreLogged: a waiter whose client left
// must leave its queue and give back a lock granted meanwhile; when
// either commit fails, the lock may be held by nobody until its TTL, and
// the log says so instead of dropping the error.
func TestStopWaiting_GoneClientFailuresAreLogged(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		store      refusingStore
	}{
		{"granted, release refused", "releasing a lock granted to a client that left",
			refusingStore{cancel: state.Result{Status: state.Granted}}},
		{"cancel refused", "leaving the queue for a client that left",
			refusingStore{cancelEr: cluster.ErrNotLeader}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedBuffer
			a := New(Config{Store: tc.store, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the client has left
			r := &request{Request: httptest.NewRequest("POST", "/locks/a/acquire", nil).WithContext(ctx)}
			cmd := state.Acquire{Name: "a", LeaseID: uuid.New(), HolderID: uuid.New(), TTL: time.Minute, Wait: time.Minute}
			a.stopWaiting(httptest.NewRecorder(), r, waitingAcquire{acquire: cmd}, true)
			if out := logs.String(); !strings.Contains(out, tc.want) || !strings.Contains(out, "level=WARN") {
				t.Fatalf("log:\n%s\nwant a warning %q", out, tc.want)
			}
		})
	}
}
