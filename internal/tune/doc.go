// Package tune adapts the Go runtime to a lock server's load: the
// collector's target follows the live heap (gc.go), and the number of
// Ps, the threads that run Go code at once, follows the CPU the server
// actually uses (procs.go). Each is off when its environment variable
// (GOGC, GOMAXPROCS) is set: an operator's choice wins. After a burst,
// the collector's headroom goes back to the system (idle.go).
//
// The collector. GOGC is a fixed ratio: the heap may grow by GOGC percent
// of what the last collection left alive. A lock server's live heap is
// its state, which ranges from a few megabytes (a busy server with
// short-lived locks) to hundreds (a million held locks). One ratio is
// wrong at one end: 50 keeps 100,000 held locks near 55 MB resident but
// collects a 4 MB heap every 2 MB of garbage, which at 64 clients is a
// tenth of the CPU; 400 is cheap at 4 MB and five times the state at
// 100 MB. The tuner grows the heap by half its live size, but never by
// less than a floor (12 MiB), the same bound in bytes that GOGC=50 gives
// a 24 MiB state. (16 MiB put 100,000 held locks at 62 MB resident; 12
// MiB keeps them at 56-58.)
//
// The Ps. A request hops between goroutines (its connection's, the
// proposer's, raft's, the state machine's); with a second P idle, each
// hop wakes a thread on another CPU, and the woken thread spins looking
// for work. On a virtual machine a cross-CPU wakeup is an interrupt the
// hypervisor must deliver, and a server that needs less than one CPU pays
// for it on every request: on the 2-CPU benchmark machine one P served
// more cycles than two at every load, with a fifth less CPU per cycle
// (BENCHMARKS.md). So the server starts with one P and adds one only while
// it is busy on all of them and the machine has an idle CPU to give, and
// gives one back once the work fits in one fewer.
package tune
