package state

import "time"

// The cluster membership commands, each with its codec, limits and apply
// rule.

// SetNode records the HTTP address a cluster member advertises.
type SetNode struct {
	ID       string
	HTTPAddr string
}

func (SetNode) kind() kind { return kindSetNode }

func (c SetNode) encode(e *encoder) {
	e.str(c.ID)
	e.str(c.HTTPAddr)
}

func (SetNode) decode(d *decoder) Command {
	return SetNode{ID: d.str(MaxNodeIDLen), HTTPAddr: d.str(MaxNodeAddrLen)}
}

func (c SetNode) validate() error {
	return firstErr(nodeIDErr(c.ID), check(c.HTTPAddr != "" && len(c.HTTPAddr) <= MaxNodeAddrLen, errNode))
}

func (c SetNode) apply(s *State, now int64, skew time.Duration) Result {
	s.nodes[c.ID] = c.HTTPAddr
	return Result{}
}

// RemoveNode forgets a member that left the cluster.
type RemoveNode struct {
	ID string
}

func (RemoveNode) kind() kind { return kindRemoveNode }

func (c RemoveNode) encode(e *encoder) {
	e.str(c.ID)
}

func (RemoveNode) decode(d *decoder) Command {
	return RemoveNode{ID: d.str(MaxNodeIDLen)}
}

func (c RemoveNode) validate() error {
	return nodeIDErr(c.ID)
}

func (c RemoveNode) apply(s *State, now int64, skew time.Duration) Result {
	delete(s.nodes, c.ID)
	return Result{}
}

func nodeIDErr(id string) error { return check(id != "" && len(id) <= MaxNodeIDLen, errNode) }
