package tune

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// procsEvery is how often the Ps are reconsidered.
	procsEvery = time.Second
	// busyShare of the current Ps in use (in CPUs) is busy enough to add
	// one; below keepShare of one fewer, one is given back. The CPU a
	// server uses grows with its Ps (more wakeups, more spinning), so
	// giving back needs the work to fit in one fewer.
	busyShare = 0.9
	keepShare = 0.95
	// minIdle CPUs must be idle on the machine for another P to help: with
	// none, a second P only shares a CPU the first one had.
	minIdle = 0.5
	// settle intervals pass after a change before the next one, so a load
	// near a threshold changes the count at most every few seconds.
	settle = 3
)

// Load is one interval's measure: the CPUs the process used and those the
// machine left idle, averaged over the interval.
type Load struct {
	Busy, Idle float64
}

// NextProcs is the P count after an interval at load with cur Ps (at most
// max), changed calm intervals ago.
func NextProcs(cur, max int, load Load, calm int) int {
	switch {
	case calm < settle:
		return cur
	case cur < max && load.Busy >= busyShare*float64(cur) && load.Idle >= minIdle:
		return cur + 1
	case cur > 1 && load.Busy < keepShare*float64(cur-1):
		return cur - 1
	}
	return cur
}

// Procs adjusts GOMAXPROCS to the load until Stop.
type Procs struct {
	max    int
	set    func(int) int    // runtime.GOMAXPROCS; replaced in tests
	sample func() cpuSample // replaced in tests
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// StartProcs starts with one P and lets the count grow up to the one Go
// chose (the CPUs, or the container's quota).
func StartProcs() *Procs {
	return startProcs(runtime.GOMAXPROCS(0), runtime.GOMAXPROCS, readCPU, procsEvery)
}

func startProcs(max int, set func(int) int, sample func() cpuSample, every time.Duration) *Procs {
	p := &Procs{max: max, set: set, sample: sample, stop: make(chan struct{}), done: make(chan struct{})}
	if max <= 1 {
		close(p.done)
		return p
	}
	set(1)
	go p.run(every)
	return p
}

// Stop ends tuning; the count stays where it is.
func (p *Procs) Stop() {
	p.once.Do(func() {
		if p.max > 1 {
			close(p.stop)
		}
	})
	<-p.done
}

func (p *Procs) run(every time.Duration) {
	defer close(p.done)
	t := time.NewTicker(every)
	defer t.Stop()
	cur, calm, last := 1, settle, p.sample() // the first P may come at once
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		now := p.sample()
		next := NextProcs(cur, p.max, now.since(last), calm)
		last, calm = now, calm+1
		if next != cur {
			p.set(next)
			cur, calm = next, 0
		}
	}
}

// cpuSample is the process's CPU time and the machine's idle time at a
// moment; idleOK is false where the machine's idle time is unknown.
type cpuSample struct {
	at     time.Time
	proc   time.Duration
	idle   time.Duration
	idleOK bool
}

// since is the load between an earlier sample and s. Without the
// machine's idle time, the machine is taken to have CPUs to spare.
func (s cpuSample) since(e cpuSample) Load {
	wall := s.at.Sub(e.at).Seconds()
	if wall <= 0 {
		return Load{}
	}
	l := Load{Busy: (s.proc - e.proc).Seconds() / wall, Idle: minIdle}
	if s.idleOK && e.idleOK {
		// max: iowait, counted in idle, can step back on some kernels.
		l.Idle = max(0, (s.idle-e.idle).Seconds()/wall)
	}
	return l
}

func readCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.proc = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	s.idle, s.idleOK = machineIdle()
	return s
}

// machineIdle reads the time all CPUs have been idle (idle and iowait)
// from /proc/stat: the host's, so in a container limited to some CPUs it
// may see idle ones the container cannot use (then a P is added that the
// quota throttles, and given back once the work fits), in clock ticks of 1/100 s (USER_HZ, 100 on every
// Linux architecture Go supports).
func machineIdle() (time.Duration, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(line)
	if err != nil || len(fields) < 6 || fields[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, v := range fields[4:6] { // idle, iowait
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}
