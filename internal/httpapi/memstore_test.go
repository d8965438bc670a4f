package httpapi

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/api"
	"github.com/octostore/octostore/internal/state"
)

// memStore applies each command alone to a State in the calling
// goroutine: the HTTP layer without raft, for benchmarks and fuzzing.
type memStore struct {
	mu      sync.Mutex
	st      *state.State
	waiting map[uuid.UUID]chan state.Lock
}

func (s *memStore) Apply(_ context.Context, cmd state.Command) (state.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.Apply(state.Batch{Now: time.Now().UnixNano(), Skew: time.Second, Commands: []state.Command{cmd}})[0]
	for _, l := range s.st.TakeHandoffs() {
		if ch, ok := s.waiting[l.LeaseID]; ok {
			ch <- l
		}
	}
	return r, nil
}

func (s *memStore) Read(_ context.Context, _ bool, fn func(state.View, int64)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.st.View(), max(time.Now().UnixNano(), s.st.LastNow()))
	return nil
}

func (s *memStore) ExpectGrant(lease uuid.UUID) (<-chan state.Lock, func()) {
	ch := make(chan state.Lock, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waiting == nil {
		s.waiting = map[uuid.UUID]chan state.Lock{}
	}
	s.waiting[lease] = ch
	return ch, func() {
		s.mu.Lock()
		delete(s.waiting, lease)
		s.mu.Unlock()
	}
}

// Changed never fires.
func (s *memStore) Changed() <-chan struct{} { return nil }

// NewMemAPI is the API over st without raft: for benchmarks, and for
// tests that need a state no server could build quickly.
func NewMemAPI(st *state.State) *API {
	return New(Config{Store: &memStore{st: st}, Spec: api.Spec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}
