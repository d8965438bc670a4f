package cluster

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

// fsm adapts state.State to raft.BatchingFSM. Its RWMutex lets reads run
// in parallel while Apply holds it briefly once per group of entries.
type fsm struct {
	mu      sync.RWMutex
	st      *state.State
	applied uint64 // Raft index of the last entry applied to st
	log     *slog.Logger
	obs     Observer

	changeMu sync.Mutex
	changeCh chan struct{} // closed, and replaced, after every applied group

	grantMu sync.Mutex
	grants  map[uuid.UUID]chan state.Lock // waiting acquires, by lease
}

var _ raft.BatchingFSM = (*fsm)(nil)

func newFSM(log *slog.Logger, obs Observer) *fsm {
	return &fsm{st: state.New(), log: log, obs: obs, changeCh: make(chan struct{}), grants: map[uuid.UUID]chan state.Lock{}}
}

// expectGrant registers a waiting acquire's lease; the channel gets the
// lock when a release or expiry hands it over.
func (f *fsm) expectGrant(lease uuid.UUID) (<-chan state.Lock, func()) {
	ch := make(chan state.Lock, 1)
	f.grantMu.Lock()
	f.grants[lease] = ch
	f.grantMu.Unlock()
	return ch, func() {
		f.grantMu.Lock()
		delete(f.grants, lease)
		f.grantMu.Unlock()
	}
}

// deliverGrants wakes the requests whose waiters were granted.
func (f *fsm) deliverGrants(locks []state.Lock) {
	if len(locks) == 0 {
		return
	}
	f.grantMu.Lock()
	defer f.grantMu.Unlock()
	for _, l := range locks {
		if ch, ok := f.grants[l.LeaseID]; ok {
			ch <- l
		}
	}
}

// dropGrants closes every registered channel: the queues were emptied (a
// new leader's CancelAllWaiters, or a snapshot restored), so no grant will
// come and the waiting requests must answer now.
func (f *fsm) dropGrants() {
	f.grantMu.Lock()
	defer f.grantMu.Unlock()
	for lease, ch := range f.grants {
		close(ch)
		delete(f.grants, lease)
	}
}

// changed returns a channel that is closed at the next change of state.
func (f *fsm) changed() <-chan struct{} {
	f.changeMu.Lock()
	defer f.changeMu.Unlock()
	return f.changeCh
}

func (f *fsm) notify() {
	f.changeMu.Lock()
	close(f.changeCh)
	f.changeCh = make(chan struct{})
	f.changeMu.Unlock()
}

// Apply applies one entry; raft calls ApplyBatch instead when it can.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch decodes outside the lock, then applies every entry under it.
// Each command entry's response is a []state.Result, or an error if the
// entry does not decode (which the codec's validation makes a bug or
// corruption, never a client's doing).
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	start := time.Now()
	out := make([]any, len(logs))
	batches := make([]state.Batch, len(logs))
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		b, err := state.DecodeBatch(l.Data)
		if err != nil {
			f.log.Error("refusing undecodable log entry", "index", l.Index, "err", err)
			out[i] = err
			continue
		}
		batches[i] = b
	}
	f.mu.Lock()
	firstEvent := f.st.LastEventSeq()
	for i, b := range batches {
		if out[i] == nil && logs[i].Type == raft.LogCommand {
			out[i] = f.st.Apply(b)
		}
	}
	tally := f.tallyEvents(firstEvent)
	if len(logs) > 0 {
		f.applied = logs[len(logs)-1].Index
	}
	granted, dropped := f.st.TakeHandoffs(), f.st.TakeQueuesDropped()
	f.mu.Unlock()
	f.deliverGrants(granted)
	if dropped {
		f.dropGrants()
	}
	f.notify()
	f.obs.Applied(len(logs), time.Since(start), tally)
	return out
}

// tallyEvents counts the events after seq by kind; f.mu is held.
func (f *fsm) tallyEvents(seq uint64) EventTally {
	var t EventTally
	for {
		events, _ := f.st.EventsAfter(seq, 1024)
		if len(events) == 0 {
			return t
		}
		for _, e := range events {
			t.add(e.Kind)
		}
		seq = events[len(events)-1].Seq
	}
}

// Snapshot captures a copy-on-write view; Persist writes it while Apply
// continues.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &fsmSnapshot{snap: f.st.Snapshot(), obs: f.obs}, nil
}

// Restore replaces the state with a decoded snapshot. A corrupt snapshot
// is refused and the current state kept.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	st, err := state.Restore(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.st = st
	f.mu.Unlock()
	f.dropGrants()
	f.notify()
	return nil
}

// snapshot captures the state with the index it reflects.
func (f *fsm) snapshot() (*state.Snapshot, uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Snapshot(), f.applied
}

// discardFSM lets raft read the configuration from the log and snapshot
// without decoding the state.
type discardFSM struct{}

func (discardFSM) Apply(*raft.Log) any                 { return nil }
func (discardFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("not a real FSM") }
func (discardFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	_, err := io.Copy(io.Discard, rc)
	return err
}

type fsmSnapshot struct {
	snap *state.Snapshot
	obs  Observer
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	n, err := s.snap.WriteTo(sink)
	if err != nil {
		sink.Cancel()
		return err
	}
	if err = sink.Close(); err == nil {
		s.obs.SnapshotPersisted(n, time.Since(start))
	}
	return err
}

func (s *fsmSnapshot) Release() {}
