package webhook_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/webhook"
)

// fakeStore applies each command alone to a State, as one committed log
// entry would, and closes Changed after each: the dispatcher's whole view
// of a node, without raft. fail, when set, refuses commands before they
// are applied, as a lost leadership would.
type fakeStore struct {
	mu      sync.Mutex
	st      *state.State
	changed chan struct{}
	fail    func(state.Command) error
	applied []state.Command
}

func newFakeStore() *fakeStore { return &fakeStore{st: state.New(), changed: make(chan struct{})} }

func (s *fakeStore) Apply(_ context.Context, cmd state.Command) (state.Result, error) {
	if err := state.Validate(cmd); err != nil {
		return state.Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(cmd); err != nil {
			return state.Result{}, err
		}
	}
	now := max(time.Now().UnixNano(), s.st.LastNow())
	res := s.st.Apply(state.Batch{Now: now, Skew: time.Second, Commands: []state.Command{cmd}})[0]
	s.applied = append(s.applied, cmd)
	close(s.changed)
	s.changed = make(chan struct{})
	return res, nil
}

func (s *fakeStore) Read(_ context.Context, _ bool, fn func(state.View, int64)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.st.View(), max(time.Now().UnixNano(), s.st.LastNow()))
	return nil
}

func (s *fakeStore) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// setFail replaces the failure rule under the store's lock.
func (s *fakeStore) setFail(fn func(state.Command) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fn
}

// webhook returns the stored record of id.
func (s *fakeStore) webhook(id uuid.UUID) state.Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, _ := s.st.GetWebhook(id)
	return w
}

// count is how many applied commands fn matches.
func (s *fakeStore) count(fn func(state.Command) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.applied {
		if fn(c) {
			n++
		}
	}
	return n
}

var owner = uuid.MustParse("00000000-0000-4000-8000-0000000000a1")

// must applies cmd and fails the test on any error.
func (s *fakeStore) must(t *testing.T, cmd state.Command) state.Result {
	t.Helper()
	res, err := state.Outcome(s.Apply(context.Background(), cmd))
	if err != nil {
		t.Fatalf("%T: %v", cmd, err)
	}
	return res
}

// setup is setupWith a fresh store.
func setup(t *testing.T, cfg webhook.Config) (*fakeStore, *apitest.Receiver, uuid.UUID, *webhook.Dispatcher) {
	t.Helper()
	return setupWith(t, newFakeStore(), cfg)
}

// setupWith gives s one user and a webhook for every event pointing at a
// test receiver, and runs a dispatcher on it until the test ends.
func setupWith(t *testing.T, s *fakeStore, cfg webhook.Config) (*fakeStore, *apitest.Receiver, uuid.UUID, *webhook.Dispatcher) {
	t.Helper()
	s.must(t, state.SyncStaticUsers{Users: []state.StaticUser{{ID: owner, Login: "owner"}}})
	rcv := apitest.NewReceiver(t)
	hook := uuid.New()
	s.must(t, state.CreateWebhook{ID: hook, UserID: owner, URL: rcv.URL + "/hook", Events: state.AllEvents})
	cfg.AllowPrivate, cfg.RootCAs = true, rcv.Roots()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := webhook.New(s, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, rcv, hook, d
}

func newID() uuid.UUID { return uuid.New() }
