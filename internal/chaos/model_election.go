package chaos

import "fmt"

// Elections (issue #18) in the model. A name the clients use as an
// election (Input.Election on every operation on it) is an electionState:
// OpAcquire is a campaign that does not wait (a try-lock whose value is
// Input.Value), OpRenew a proclaim of a new value under the leader's lease,
// OpRelease a resignation, OpGet a read of the election. The harness
// campaigns without sessions and always with a value.
//
// What a history must show: one leader at a time; a campaign by another
// while there is one refused; the leader campaigning again keeps its lease
// and term and takes the new value; every new term above the election's
// earlier ones; proclaim and resign only under the leader's lease; reads
// show the leader, its lease, term and latest value, or vacant.

// electionState is an election's leadership. Lease "" and Token 0 of a
// held election: elected by a campaign whose answer was lost.
type electionState struct {
	Held      bool
	Client    int
	Lease     string
	Token     uint64 // the term
	Value     string
	LastToken uint64 // the highest term seen on this election
}

func asElection(st any) (electionState, bool) {
	switch s := st.(type) {
	case electionState:
		return s, true
	case lockState:
		return electionState{}, s == lockState{}
	}
	return electionState{}, false
}

func stepElection(st any, in Input, out Output) []any {
	s, ok := asElection(st)
	if !ok || in.Session != "" {
		return nil
	}
	if out.Unknown {
		return possibleElection(s, in)
	}
	if out.Status == 503 || out.Status == 429 {
		return []any{s}
	}
	if next, ok := observeElection(s, in, out); ok {
		return []any{next}
	}
	return nil
}

// leads reports whether in's lease may be the leader's.
func (s electionState) leads(in Input) bool {
	return s.Held && s.Client == in.Client && (s.Lease == "" || s.Lease == in.Lease)
}

func possibleElection(s electionState, in Input) []any {
	next := []any{s}
	switch in.Op {
	case OpAcquire:
		switch {
		case !s.Held:
			next = append(next, electionState{Held: true, Client: in.Client, Value: in.Value, LastToken: s.LastToken})
		case s.Client == in.Client && s.Value != in.Value:
			s.Value = in.Value
			next = append(next, s)
		}
	case OpRenew:
		if s.leads(in) && s.Value != in.Value {
			s.Value = in.Value
			next = append(next, s)
		}
	case OpRelease:
		if s.leads(in) {
			next = append(next, electionState{LastToken: s.LastToken})
		}
	}
	return next
}

func observeElection(s electionState, in Input, out Output) (electionState, bool) {
	switch in.Op {
	case OpAcquire:
		switch {
		case out.Status == 409:
			return s, s.Held && s.Client != in.Client && out.Code == "lock_held"
		case out.Status != 200 || out.State != "leader" || out.Holder != in.Client || out.Value != in.Value:
			return s, false
		case !s.Held:
			if out.Token <= s.LastToken || out.Lease == "" {
				return s, false
			}
			return electionState{Held: true, Client: in.Client, Lease: out.Lease, Token: out.Token, Value: in.Value,
				LastToken: out.Token}, true
		case s.Client == in.Client: // campaigning again: the same term, the new value
			next, ok := s.learn(out.Lease, out.Token)
			next.Value = in.Value
			return next, ok
		}
	case OpRenew:
		switch out.Status {
		case 200:
			if !s.leads(in) || out.State != "leader" || out.Holder != in.Client || out.Value != in.Value {
				return s, false
			}
			next, ok := s.learn(in.Lease, out.Token)
			next.Value = in.Value
			return next, ok && out.Lease == in.Lease
		case 404:
			return s, !(s.Held && s.Client == in.Client && s.Lease == in.Lease)
		}
	case OpRelease:
		switch out.Status {
		case 200:
			return electionState{LastToken: s.LastToken}, s.leads(in)
		case 404:
			return s, !(s.Held && s.Client == in.Client && s.Lease == in.Lease)
		}
	case OpGet:
		switch {
		case out.Status != 200:
		case out.State == "vacant":
			return s, !s.Held
		case out.State == "leader":
			if !s.Held || out.Holder != s.Client || out.Value != s.Value {
				return s, false
			}
			return s.learn(out.Lease, out.Token)
		}
	}
	return s, false
}

// learn checks the leader's lease and term against an answer's, filling
// them in when the election was won unseen.
func (s electionState) learn(lease string, token uint64) (electionState, bool) {
	if s.Lease != "" {
		return s, s.Lease == lease && s.Token == token
	}
	if lease == "" || token == 0 {
		return s, false
	}
	s.Lease, s.Token, s.LastToken = lease, token, max(s.LastToken, token)
	return s, true
}

func describeElection(s electionState) string {
	if !s.Held {
		return fmt.Sprintf("vacant, last term %d", s.LastToken)
	}
	return fmt.Sprintf("leader c%d l=%.8s term %d value %q, last term %d", s.Client, s.Lease, s.Token, s.Value, s.LastToken)
}
