package tune

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestNextProcs(t *testing.T) {
	for _, tc := range []struct {
		name           string
		cur, max, calm int
		load           Load
		want           int
	}{
		{"BusyWithIdleMachineAddsOne", 1, 4, settle, Load{Busy: 0.95, Idle: 2}, 2},
		{"BusyButMachineFull", 1, 4, settle, Load{Busy: 0.95, Idle: 0.2}, 1},
		{"NotBusy", 1, 4, 9, Load{Busy: 0.78, Idle: 1}, 1},
		{"AtMax", 4, 4, settle, Load{Busy: 4, Idle: 1}, 4},
		{"WorkFitsInOneFewer", 2, 4, settle, Load{Busy: 0.93, Idle: 1}, 1},
		{"NotSettledToGiveBack", 2, 4, settle - 1, Load{Busy: 0.5, Idle: 1}, 2},
		{"NotSettledToAdd", 1, 4, settle - 1, Load{Busy: 0.99, Idle: 1}, 1},
		{"NeedsThemAll", 2, 4, settle, Load{Busy: 1.5, Idle: 0.3}, 2},
		{"NeverBelowOne", 1, 4, 9, Load{Busy: 0, Idle: 2}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := NextProcs(tc.cur, tc.max, tc.load, tc.calm); got != tc.want {
				t.Fatalf("NextProcs(%d, %d, %+v, %d) = %d, want %d", tc.cur, tc.max, tc.load, tc.calm, got, tc.want)
			}
		})
	}
}

// fakeMachine is a process on a machine whose load a test sets.
type fakeMachine struct {
	mu   sync.Mutex
	at   time.Time
	proc time.Duration
	idle time.Duration
	load Load // per second of fake time
	sets []int
}

func (m *fakeMachine) sample() cpuSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.at = m.at.Add(time.Second) // each sample is a second after the last
	m.proc += time.Duration(m.load.Busy * float64(time.Second))
	m.idle += time.Duration(m.load.Idle * float64(time.Second))
	return cpuSample{at: m.at, proc: m.proc, idle: m.idle, idleOK: true}
}

func (m *fakeMachine) set(n int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sets = append(m.sets, n)
	return 0
}

func (m *fakeMachine) setLoad(l Load) { m.mu.Lock(); m.load = l; m.mu.Unlock() }

func (m *fakeMachine) last() (n, count int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sets[len(m.sets)-1], len(m.sets)
}

// TestProcs_FollowsLoad: one P at start, a second while busy with a CPU
// to spare, back to one once the work fits, nothing after Stop.
func TestProcs_FollowsLoad(t *testing.T) {
	m := &fakeMachine{at: time.Unix(0, 0)}
	p := startProcs(2, m.set, m.sample, time.Millisecond)
	waitFor := func(want int, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for n, _ := m.last(); n != want; n, _ = m.last() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d Ps, want %d", what, n, want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(1, "at start")
	m.setLoad(Load{Busy: 0.99, Idle: 1})
	waitFor(2, "busy")
	m.setLoad(Load{Busy: 0.3, Idle: 1.5})
	waitFor(1, "idle again")
	p.Stop() // returns once the tuner's goroutine has ended: nothing changes after it
	_, count := m.last()
	m.setLoad(Load{Busy: 0.99, Idle: 1})
	if _, after := m.last(); after != count {
		t.Fatalf("Ps changed after Stop")
	}
}

func TestStartProcs_OneCPU(t *testing.T) {
	m := &fakeMachine{at: time.Unix(0, 0)}
	p := startProcs(1, m.set, m.sample, time.Millisecond)
	p.Stop()
	if len(m.sets) != 0 {
		t.Fatalf("set %v on a one-CPU machine", m.sets)
	}
}

// TestMachineIdle: Linux has the machine's idle time; elsewhere the tuner
// works without it.
func TestMachineIdle(t *testing.T) {
	a, ok := machineIdle()
	if ok != (runtime.GOOS == "linux") {
		t.Fatalf("machine idle time known: %v on %s", ok, runtime.GOOS)
	}
	if b, _ := machineIdle(); ok && b < a {
		t.Fatalf("idle time went back: %v then %v", a, b)
	}
}
