package chaos

import (
	"cmp"
	"fmt"
	"slices"
)

// Semaphores and read/write locks (issue #18) in the model. A name the
// clients use as a semaphore (every operation on it carries Input.Limit)
// or as a read/write lock (Input.RW) is a slotState instead of a
// lockState: a set of holders, each with its own lease and fencing token.
// The harness acquires these names without sessions and without waiting,
// so a slot ends only by its release (TTLs are an hour), and holders of a
// read/write lock are one per user.
//
// What a history must show, besides the mutex rules' conflicts and
// releases: at most Limit holders of a semaphore, each acquire a new slot
// (never "held"); shared holders together, never with an exclusive one; a
// user asking again in the mode it holds extends its hold ("held", same
// lease and token), in the other mode is refused; every grant's token
// above every token granted on the name before it; renew and release
// succeed only for a live slot's lease; a status read lists exactly the
// holders, in token order, with the name's limit and mode.

// maxSlots bounds a slotState's holders: a semaphore's limit (3 in the
// harness) or one shared holder per user (5). A history that would need
// more is rejected.
const maxSlots = 8

// slot is one holder. Lease "" and Token 0: granted by a request whose
// answer was lost (any lease and token are then possible).
type slot struct {
	Client int
	Lease  string
	Token  uint64
}

func (s slot) known() bool { return s.Lease != "" }

// slotState is a semaphore's or read/write lock's holders. Slots[:N] is
// kept sorted (token, then client and lease), so equal sets of holders
// are equal states.
type slotState struct {
	Limit     int  // a semaphore's slots; 0 for a read/write lock
	Shared    bool // a read/write lock's holders hold it shared (false while free)
	N         int
	Slots     [maxSlots]slot
	LastToken uint64 // the highest token seen granted on this name
}

// Holder is one holder on a status read of a semaphore or of a read/write
// lock held shared.
type Holder struct {
	Client  int // -1 when the login is not a client's
	Lease   string
	Token   uint64
	Session string
}

// shaped reports whether in is about a semaphore or read/write lock name.
func (in Input) shaped() bool { return in.Limit > 0 || in.RW }

// asSlots is the state a shaped name's step starts from: the partition's
// initial lockState{} becomes an empty slotState of in's shape.
func asSlots(st any, in Input) (slotState, bool) {
	switch s := st.(type) {
	case slotState:
		return s, s.Limit == in.Limit
	case lockState:
		return slotState{Limit: in.Limit}, s == lockState{}
	}
	return slotState{}, false
}

func stepSlots(st any, in Input, out Output) []any {
	s, ok := asSlots(st, in)
	if !ok || in.Session != "" { // the harness never mixes shapes or uses sessions here
		return nil
	}
	if out.Unknown {
		return possibleSlots(s, in)
	}
	if out.Status == 503 || out.Status == 429 {
		return []any{s} // refused before anything happened
	}
	switch in.Op {
	case OpAcquire:
		if next, ok := observeSlotAcquire(s, in, out); ok {
			return []any{next}
		}
	case OpRenew, OpRelease:
		return observeSlotOwned(s, in, out)
	case OpGet:
		if next, ok := observeSlotGet(s, out); ok {
			return []any{next}
		}
	}
	return nil
}

// own is the index of client's hold of a read/write lock, or -1.
func (s slotState) own(client int) int {
	for i := range s.N {
		if s.Slots[i].Client == client {
			return i
		}
	}
	return -1
}

// grants reports whether an acquire by in would get a new slot now (no
// one waits in the harness), and extends whether it would extend a hold.
func (s slotState) grants(in Input) (grants, extends bool) {
	if s.Limit > 0 {
		return s.N < s.Limit, false
	}
	own := s.own(in.Client)
	if own >= 0 {
		return false, s.Shared == in.Shared
	}
	return s.N == 0 || (s.Shared && in.Shared), false
}

// add is s with a new holder; ok is false when the model cannot hold it.
func (s slotState) add(in Input, sl slot) (slotState, bool) {
	if s.N == maxSlots {
		return s, false
	}
	if s.N == 0 {
		s.Shared = in.RW && in.Shared
	}
	s.Slots[s.N] = sl
	s.N++
	return s.sorted(), true
}

func (s slotState) remove(i int) slotState {
	copy(s.Slots[i:s.N], s.Slots[i+1:s.N])
	s.N--
	s.Slots[s.N] = slot{}
	if s.N == 0 {
		s.Shared = false
	}
	return s
}

func (s slotState) sorted() slotState {
	slices.SortFunc(s.Slots[:s.N], func(a, b slot) int {
		return cmp.Or(cmp.Compare(a.Token, b.Token), cmp.Compare(a.Client, b.Client), cmp.Compare(a.Lease, b.Lease))
	})
	return s
}

// candidates are the slots a renew or release by in may name: the one
// known under its lease, else every slot of the client granted unseen.
func (s slotState) candidates(in Input) []int {
	var unseen []int
	for i := range s.N {
		sl := s.Slots[i]
		switch {
		case sl.Lease == in.Lease:
			if sl.Client != in.Client {
				return nil // another's lease: lease IDs are not shared
			}
			return []int{i}
		case !sl.known() && sl.Client == in.Client:
			unseen = append(unseen, i)
		}
	}
	return unseen
}

// possibleSlots is every state an unanswered request may have left.
func possibleSlots(s slotState, in Input) []any {
	next := []any{s}
	switch in.Op {
	case OpAcquire:
		if grants, _ := s.grants(in); grants {
			if a, ok := s.add(in, slot{Client: in.Client}); ok {
				next = append(next, a)
			}
		}
	case OpRelease:
		for _, i := range s.candidates(in) {
			if r := s.remove(i); !slices.Contains(next, any(r)) {
				next = append(next, r)
			}
		}
	}
	return next
}

func observeSlotAcquire(s slotState, in Input, out Output) (slotState, bool) {
	grants, extends := s.grants(in)
	switch {
	case out.Status == 409:
		return s, !grants && !extends && out.Code != "limit_mismatch"
	case out.Status != 200 || !shapeMatches(s, in.Shared, out):
		return s, false
	case out.State == "acquired":
		if !grants || out.Token <= s.LastToken || out.Lease == "" {
			return s, false
		}
		next, ok := s.add(in, slot{Client: in.Client, Lease: out.Lease, Token: out.Token})
		next.LastToken = out.Token
		return next, ok
	case out.State == "held":
		if !extends {
			return s, false
		}
		return s.learn(s.own(in.Client), out.Lease, out.Token)
	}
	return s, false
}

// shapeMatches checks the limit and mode an acquire's answer names. An
// exclusive acquire of a read/write lock that is free or held exclusively
// follows the mutex rules and may answer as a mutex does, without them.
func shapeMatches(s slotState, shared bool, out Output) bool {
	switch {
	case s.Limit > 0:
		return out.Limit == s.Limit && out.Mode == "exclusive"
	case shared:
		return out.Limit == 1 && out.Mode == "shared"
	}
	return (out.Limit == 1 && out.Mode == "exclusive") || (out.Limit == 0 && out.Mode == "")
}

// learn checks slot i against a lease and token an answer showed and
// fills them in if it was granted unseen.
func (s slotState) learn(i int, lease string, token uint64) (slotState, bool) {
	sl := s.Slots[i]
	if sl.known() {
		return s, sl.Lease == lease && sl.Token == token
	}
	if lease == "" || token == 0 {
		return s, false
	}
	s.Slots[i].Lease, s.Slots[i].Token = lease, token
	s.LastToken = max(s.LastToken, token)
	return s.sorted(), true
}

// observeSlotOwned checks renew and release: they succeed exactly when the
// lease is a live slot of the caller's; a renew shows the slot's token.
func observeSlotOwned(s slotState, in Input, out Output) []any {
	cands := s.candidates(in)
	switch out.Status {
	case 200:
		var next []any
		for _, i := range cands {
			var n slotState
			ok := true
			if in.Op == OpRelease {
				n = s.remove(i)
			} else {
				n, ok = s.learn(i, in.Lease, out.Token)
			}
			if ok && !slices.Contains(next, any(n)) {
				next = append(next, n)
			}
		}
		return next
	case 404:
		if len(cands) == 1 && s.Slots[cands[0]].known() {
			return nil // the caller's live slot under that very lease
		}
		return []any{s}
	}
	return nil
}

// observeSlotGet checks a status read: exactly the holders, in token
// order, in the name's shape.
func observeSlotGet(s slotState, out Output) (slotState, bool) {
	if out.Status != 200 {
		return s, false
	}
	if out.State == "available" {
		return s, s.N == 0
	}
	if out.State != "held" || s.N == 0 {
		return s, false
	}
	holders := out.Holders
	switch {
	case s.Limit > 0 || s.Shared:
		if !shapeMatches(s, s.Shared, out) || len(holders) == 0 {
			return s, false
		}
	default: // held exclusively: it reads as a mutex, in any mode but shared
		if out.Mode == "shared" {
			return s, false
		}
		if len(holders) == 0 {
			holders = []Holder{{Client: out.Holder, Lease: out.Lease, Token: out.Token, Session: out.Session}}
		}
	}
	if len(holders) != s.N {
		return s, false
	}
	for i, h := range holders {
		if h.Session != "" || h.Lease == "" || (i > 0 && h.Token <= holders[i-1].Token) {
			return s, false
		}
	}
	// Known slots must be shown as they are; the rest of the holders are
	// the slots granted unseen, client for client.
	used := make([]bool, len(holders))
	var unseen []int
	for i := range s.N {
		sl := s.Slots[i]
		if !sl.known() {
			unseen = append(unseen, i)
			continue
		}
		j := slices.IndexFunc(holders, func(h Holder) bool { return h.Lease == sl.Lease })
		if j < 0 || holders[j].Client != sl.Client || holders[j].Token != sl.Token {
			return s, false
		}
		used[j] = true
	}
	next := s
	for j, h := range holders {
		if used[j] {
			continue
		}
		k := slices.IndexFunc(unseen, func(i int) bool { return i >= 0 && s.Slots[i].Client == h.Client })
		if k < 0 {
			return s, false
		}
		next.Slots[unseen[k]] = slot{Client: h.Client, Lease: h.Lease, Token: h.Token}
		next.LastToken = max(next.LastToken, h.Token)
		unseen[k] = -1
	}
	return next.sorted(), true
}

func describeSlots(s slotState) string {
	shape := "rw exclusive"
	switch {
	case s.Limit > 0:
		shape = fmt.Sprintf("semaphore of %d", s.Limit)
	case s.Shared:
		shape = "rw shared"
	}
	return fmt.Sprintf("%s, last token %d, holders %+v", shape, s.LastToken, s.Slots[:s.N])
}
