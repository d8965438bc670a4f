package state

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// notReads are the State methods a View must not offer: they change the
// state or take what belongs to the FSM.
var notReads = map[string]bool{"Apply": true, "TakeHandoffs": true, "TakeQueuesDropped": true, "Snapshot": true, "View": true}

// TestView_HasEveryReadAndNoWrite: View offers every other exported
// State method with the same signature (so a new read method is not
// forgotten), and none of notReads.
func TestView_HasEveryReadAndNoWrite(t *testing.T) {
	st, vt := reflect.TypeOf(&State{}), reflect.TypeOf(View{})
	for i := 0; i < st.NumMethod(); i++ {
		m := st.Method(i)
		vm, ok := vt.MethodByName(m.Name)
		switch {
		case notReads[m.Name] && ok:
			t.Errorf("View offers %s", m.Name)
		case notReads[m.Name]:
		case !ok:
			t.Errorf("View lacks the read method %s", m.Name)
		case !sameSignature(m.Type, vm.Type):
			t.Errorf("View.%s is %v, State.%s is %v", m.Name, vm.Type, m.Name, m.Type)
		}
	}
	if vt.NumMethod() != st.NumMethod()-len(notReads) {
		t.Errorf("View has %d methods, want %d", vt.NumMethod(), st.NumMethod()-len(notReads))
	}
}

// sameSignature compares method types without their receivers.
func sameSignature(a, b reflect.Type) bool {
	if a.NumIn() != b.NumIn() || a.NumOut() != b.NumOut() {
		return false
	}
	for i := 1; i < a.NumIn(); i++ {
		if a.In(i) != b.In(i) {
			return false
		}
	}
	for i := 0; i < a.NumOut(); i++ {
		if a.Out(i) != b.Out(i) {
			return false
		}
	}
	return true
}

// TestView_ReadsTheState: a view sees the state it was taken from,
// including changes applied after it was taken.
func TestView_ReadsTheState(t *testing.T) {
	s := New()
	v := s.View()
	lease := uuid.New()
	s.Apply(Batch{Now: t0, Skew: time.Second, Commands: []Command{
		SyncStaticUsers{Users: []StaticUser{{ID: alice, Login: "alice"}}},
		Acquire{Name: "a", LeaseID: lease, HolderID: alice, TTL: time.Minute},
	}})
	l, ok := v.GetLock("a", t0)
	if !ok || l.LeaseID != lease || v.Login(alice) != "alice" || v.LockCount() != 1 || v.LastEventSeq() != 1 {
		t.Fatalf("view: lock %+v %v, login %q, %d locks, last event %d", l, ok, v.Login(alice), v.LockCount(), v.LastEventSeq())
	}
}
