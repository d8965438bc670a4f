package cluster

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/octostore/octostore/internal/state"
)

// TestFSM_Grants: a waiter's request hears of its grant, and of its queue
// being dropped by a new leader, which closes the channel after any grant
// already delivered.
func TestFSM_Grants(t *testing.T) {
	f := newFSM(quietLogger(), nopObserver{})
	holder, waiter, other := uuid.New(), uuid.New(), uuid.New() // leases
	u1, u2, u3 := uuid.New(), uuid.New(), uuid.New()
	now := time.Now().UnixNano()
	index := uint64(0)
	apply := func(cmds ...state.Command) {
		index++
		f.ApplyBatch([]*raft.Log{{Index: index, Type: raft.LogCommand,
			Data: state.EncodeBatch(state.Batch{Now: now, Commands: cmds})}})
	}
	apply(state.SyncStaticUsers{Users: []state.StaticUser{{ID: u1, Login: "u1"}, {ID: u2, Login: "u2"}, {ID: u3, Login: "u3"}}})
	granted, forget := f.expectGrant(waiter)
	defer forget()
	dropped, forgetDropped := f.expectGrant(other)
	defer forgetDropped()
	apply(state.Acquire{Name: "l", LeaseID: holder, HolderID: u1, TTL: time.Minute},
		state.Acquire{Name: "l", LeaseID: waiter, HolderID: u2, TTL: time.Minute, Wait: time.Minute},
		state.Acquire{Name: "l", LeaseID: other, HolderID: u3, TTL: time.Minute, Wait: time.Minute})
	apply(state.Release{Name: "l", LeaseID: holder, HolderID: u1}, state.CancelAllWaiters{})
	if l, ok, ready := receive(granted); !ready || !ok || l.LeaseID != waiter {
		t.Fatalf("first waiter: %+v, ok %v, ready %v", l, ok, ready)
	}
	if _, ok, ready := receive(granted); !ready || ok {
		t.Fatal("granted channel still open after the queues were dropped")
	}
	if l, ok, ready := receive(dropped); !ready || ok {
		t.Fatalf("second waiter: %+v, ok %v, ready %v; want its channel closed", l, ok, ready)
	}
}

// receive takes what ch holds without waiting: ApplyBatch delivers
// before it returns.
func receive(ch <-chan state.Lock) (l state.Lock, ok, ready bool) {
	select {
	case l, ok = <-ch:
		return l, ok, true
	default:
		return l, false, false
	}
}
