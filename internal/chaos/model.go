package chaos

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// Op is what a client asked.
type Op uint8

// The operations the model knows.
const (
	OpAcquire Op = iota + 1
	OpRenew
	OpRelease
	OpGet
	OpSessionCreate
	OpKeepAlive
	OpSessionDelete
)

var opNames = map[Op]string{OpAcquire: "acquire", OpRenew: "renew", OpRelease: "release", OpGet: "get",
	OpSessionCreate: "session-create", OpKeepAlive: "keepalive", OpSessionDelete: "session-delete"}

// electionOpNames names the operations on an election (Input.Election).
var electionOpNames = map[Op]string{OpAcquire: "campaign", OpRenew: "proclaim", OpRelease: "resign", OpGet: "get-election"}

// Input is one request of a history.
type Input struct {
	Op      Op
	Client  int    // the holder's user; clients do not share users
	Name    string // lock name; empty for session operations
	Session string // the session acquired with, kept alive or deleted
	Lease   string // renew, release
	// A semaphore's or read/write lock's name (model_slots.go) says so on
	// every operation on it, reads included: Limit is the semaphore's
	// slots, RW marks a read/write lock, Shared its shared acquires.
	Limit  int
	RW     bool
	Shared bool
	// An election's name (model_election.go) says so on every operation
	// on it; Value is a campaign's or proclaim's value.
	Election bool
	Value    string
}

// Output is what the request got back. Unknown marks a request whose
// effect is unknown (timeout, connection lost after sending, 503
// outcome_unknown): the model lets it have happened, or not.
type Output struct {
	Unknown bool
	Status  int    // HTTP status
	State   string // acquired, held, available
	Lease   string
	Token   uint64
	Holder  int    // the client holding, on a held lock read
	Session string // the holder's session on a read; the new session's ID on create
	// Semaphores and read/write locks: the error code of a 409, the limit
	// and mode an answer names, and every holder on a status read.
	Code    string
	Limit   int
	Mode    string
	Holders []Holder
	Value   string // an election's value (Token is its term, Holder its leader)
}

// lockState is one lock's state with the sessions the model knows of.
// Lease "" and Token 0 of a held lock mean "granted by a request whose
// answer was lost": any lease and token are then possible.
type lockState struct {
	Held          bool
	Client        int
	Session       string
	Lease         string
	Token         uint64
	LastToken     uint64 // the highest token granted for this lock so far
	LiveSessions  string // sorted, comma-separated IDs
	ClosedSession string // sorted, comma-separated IDs deleted (or possibly deleted)
}

// Model is the lock API as a porcupine model. A history is partitioned by
// lock name; a semaphore's or read/write lock's name is a slotState
// (model_slots.go), a mutex's a lockState. A session's operations go into the partition of every lock
// acquired with it (its liveness decides those acquires, its end releases
// them), or into one of their own when it locked nothing.
var Model = porcupine.NondeterministicModel{
	Partition: partitionByLock,
	Init:      func() []any { return []any{lockState{}} },
	Step: func(st, in, out any) []any {
		if in := in.(Input); in.Election {
			return stepElection(st, in, out.(Output))
		} else if in.shaped() {
			return stepSlots(st, in, out.(Output))
		}
		s, ok := st.(lockState)
		if !ok {
			return nil // a mutex operation on a shaped name: the harness never sends one
		}
		return step(s, in.(Input), out.(Output))
	},
	Equal: func(a, b any) bool { return a == b }, // lockState or slotState, both comparable
	DescribeOperation: func(in, out any) string {
		return describe(in.(Input), out.(Output))
	},
	DescribeState: func(st any) string {
		switch s := st.(type) {
		case slotState:
			return describeSlots(s)
		case electionState:
			return describeElection(s)
		}
		return fmt.Sprintf("%+v", st)
	},
}

func partitionByLock(history []porcupine.Operation) [][]porcupine.Operation {
	byName := map[string][]porcupine.Operation{}
	bySession := map[string][]porcupine.Operation{}
	namesOf := map[string]map[string]bool{} // session → lock names acquired with it
	for _, op := range history {
		in := op.Input.(Input)
		switch {
		case in.Name != "":
			byName[in.Name] = append(byName[in.Name], op)
			if in.Session != "" {
				namesOf[in.Session] = setAdd(namesOf[in.Session], in.Name)
			}
		case in.Op == OpSessionCreate:
			id := op.Output.(Output).Session // empty when unanswered: constrains nothing
			bySession[id] = append(bySession[id], op)
		default:
			bySession[in.Session] = append(bySession[in.Session], op)
		}
	}
	var parts [][]porcupine.Operation
	for id, ops := range bySession {
		if len(namesOf[id]) == 0 {
			parts = append(parts, ops)
		}
		for name := range namesOf[id] {
			byName[name] = append(byName[name], ops...)
		}
	}
	for _, ops := range byName {
		slices.SortStableFunc(ops, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		parts = append(parts, ops)
	}
	return parts
}

func setAdd(set map[string]bool, s string) map[string]bool {
	if set == nil {
		set = map[string]bool{}
	}
	set[s] = true
	return set
}

func step(s lockState, in Input, out Output) []any {
	if out.Unknown {
		return possible(s, in)
	}
	if out.Status == 503 || out.Status == 429 {
		return []any{s} // refused before anything happened
	}
	if next, ok := observed(s, in, out); ok {
		return []any{next}
	}
	return nil
}

// possible is every state an unanswered request may have left.
func possible(s lockState, in Input) []any {
	next := []any{s}
	switch in.Op {
	case OpAcquire:
		if a, ok := acquireEffect(s, in); ok && a != s {
			next = append(next, a)
		}
	case OpRelease:
		if s.Held && s.Client == in.Client && (s.Lease == "" || s.Lease == in.Lease) {
			next = append(next, free(s))
		}
	case OpSessionDelete:
		next = append(next, endSession(s, in.Session))
	}
	return next
}

// acquireEffect is an applied acquire: a free lock is granted (lease and
// token unknown); the holder's own lock stays as it is; anyone else's is
// untouched. ok is false when the acquire would have been refused.
func acquireEffect(s lockState, in Input) (lockState, bool) {
	if in.Session != "" && !has(s.LiveSessions, in.Session) {
		return s, false
	}
	if s.Held {
		return s, true
	}
	s.Held, s.Client, s.Session, s.Lease, s.Token = true, in.Client, in.Session, "", 0
	return s, true
}

// observed checks an answer against s and returns the state after it.
func observed(s lockState, in Input, out Output) (lockState, bool) {
	switch in.Op {
	case OpAcquire:
		return observeAcquire(s, in, out)
	case OpRenew, OpRelease:
		return observeOwned(s, in, out)
	case OpGet:
		return observeGet(s, out)
	case OpSessionCreate:
		if out.Status == 201 {
			s.LiveSessions = add(s.LiveSessions, out.Session)
		}
		return s, out.Status == 201
	case OpKeepAlive:
		return s, keepAliveOK(s, in, out.Status)
	case OpSessionDelete:
		ok := out.Status == 204 || (out.Status == 404 && !has(s.LiveSessions, in.Session) && !has(s.ClosedSession, in.Session))
		return endSession(s, in.Session), ok
	}
	return s, false
}

func observeAcquire(s lockState, in Input, out Output) (lockState, bool) {
	mine := s.Held && s.Client == in.Client && s.Session == in.Session
	switch {
	case out.Status == 422:
		return s, in.Session != "" && !has(s.LiveSessions, in.Session)
	case out.Status == 409:
		return s, s.Held && !mine
	case out.Status == 200 && out.State == "acquired":
		if s.Held || out.Token <= s.LastToken || (in.Session != "" && !has(s.LiveSessions, in.Session)) {
			return s, false
		}
		return grant(s, in.Client, in.Session, out), true
	case out.Status == 200 && out.State == "held":
		return learn(s, out), mine && matches(s, out)
	}
	return s, false
}

// observeOwned checks renew and release: they succeed exactly when the
// caller holds the lock under that lease.
func observeOwned(s lockState, in Input, out Output) (lockState, bool) {
	owns := s.Held && s.Client == in.Client && (s.Lease == "" || s.Lease == in.Lease)
	switch out.Status {
	case 200:
		if in.Op == OpRelease {
			return free(s), owns
		}
		return learn(s, Output{Lease: in.Lease, Token: out.Token}), owns && (s.Token == 0 || s.Token == out.Token)
	case 404:
		sure := s.Held && s.Client == in.Client && s.Lease == in.Lease
		return s, !sure
	}
	return s, false
}

func observeGet(s lockState, out Output) (lockState, bool) {
	if out.Status != 200 {
		return s, false
	}
	if out.State == "available" {
		return s, !s.Held
	}
	ok := s.Held && s.Client == out.Holder && s.Session == out.Session && matches(s, out)
	return learn(s, out), ok
}

func keepAliveOK(s lockState, in Input, status int) bool {
	switch status {
	case 200:
		return has(s.LiveSessions, in.Session)
	case 410:
		return !has(s.LiveSessions, in.Session)
	case 404:
		return !has(s.LiveSessions, in.Session) && !has(s.ClosedSession, in.Session)
	}
	return false
}

func grant(s lockState, client int, session string, out Output) lockState {
	s.Held, s.Client, s.Session, s.Lease, s.Token, s.LastToken = true, client, session, out.Lease, out.Token, out.Token
	return s
}

// matches: a lease or token the model does not know matches anything.
func matches(s lockState, out Output) bool {
	return (s.Lease == "" || s.Lease == out.Lease) && (s.Token == 0 || s.Token == out.Token)
}

// learn fills in what an answer reveals about a lock granted unseen.
func learn(s lockState, out Output) lockState {
	if s.Held && s.Lease == "" {
		s.Lease = out.Lease
	}
	if s.Held && s.Token == 0 && out.Token > 0 {
		s.Token = out.Token
		s.LastToken = max(s.LastToken, out.Token)
	}
	return s
}

func free(s lockState) lockState {
	s.Held, s.Client, s.Session, s.Lease, s.Token = false, 0, "", "", 0
	return s
}

func endSession(s lockState, id string) lockState {
	s.LiveSessions = remove(s.LiveSessions, id)
	s.ClosedSession = add(s.ClosedSession, id)
	if s.Held && s.Session == id {
		return free(s)
	}
	return s
}

func has(set, id string) bool { return id != "" && slices.Contains(strings.Split(set, ","), id) }

func add(set, id string) string {
	if has(set, id) || id == "" {
		return set
	}
	items := append(strings.Split(set, ","), id)
	items = slices.DeleteFunc(items, func(s string) bool { return s == "" })
	slices.Sort(items)
	return strings.Join(items, ",")
}

func remove(set, id string) string {
	items := slices.DeleteFunc(strings.Split(set, ","), func(s string) bool { return s == id || s == "" })
	return strings.Join(items, ",")
}

func describe(in Input, out Output) string {
	var b strings.Builder
	op := opNames[in.Op]
	if in.Election {
		op = electionOpNames[in.Op]
	}
	fmt.Fprintf(&b, "c%d %s", in.Client, op)
	if in.Name != "" {
		fmt.Fprintf(&b, " %s", in.Name)
	}
	switch {
	case in.Limit > 0:
		fmt.Fprintf(&b, " limit=%d", in.Limit)
	case in.RW && in.Op == OpAcquire && in.Shared:
		b.WriteString(" shared")
	case in.RW && in.Op == OpAcquire:
		b.WriteString(" exclusive")
	}
	if in.Session != "" {
		fmt.Fprintf(&b, " s=%.8s", in.Session)
	}
	if in.Lease != "" {
		fmt.Fprintf(&b, " l=%.8s", in.Lease)
	}
	if in.Value != "" {
		fmt.Fprintf(&b, " v=%q", in.Value)
	}
	if out.Unknown {
		return b.String() + " → ?"
	}
	fmt.Fprintf(&b, " → %d %s", out.Status, out.State)
	if out.Token > 0 {
		fmt.Fprintf(&b, " t=%d", out.Token)
	}
	if out.Code != "" {
		fmt.Fprintf(&b, " %s", out.Code)
	}
	if out.Value != "" {
		fmt.Fprintf(&b, " v=%q", out.Value)
	}
	for _, h := range out.Holders {
		fmt.Fprintf(&b, " [c%d l=%.8s t=%d]", h.Client, h.Lease, h.Token)
	}
	return b.String()
}
