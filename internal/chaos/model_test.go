package chaos

import (
	"math"
	"testing"

	"github.com/anishathalye/porcupine"
)

func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	in.Client = client
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func acq(name string) Input        { return Input{Op: OpAcquire, Name: name} }
func rel(name, lease string) Input { return Input{Op: OpRelease, Name: name, Lease: lease} }
func get(name string) Input        { return Input{Op: OpGet, Name: name} }

var model = Model.ToModel()

func TestModel(t *testing.T) {
	granted := func(lease string, token uint64) Output {
		return Output{Status: 200, State: "acquired", Lease: lease, Token: token}
	}
	cases := []struct {
		name string
		ok   bool
		ops  []porcupine.Operation
	}{
		{"GrantReleaseGrant", true, []porcupine.Operation{
			op(0, 0, 1, acq("a"), granted("L1", 1)),
			op(0, 2, 3, rel("a", "L1"), Output{Status: 200}),
			op(1, 4, 5, acq("a"), granted("L2", 2)),
		}},
		{"TwoHolders", false, []porcupine.Operation{
			op(0, 0, 1, acq("a"), granted("L1", 1)),
			op(1, 2, 3, acq("a"), granted("L2", 2)),
		}},
		{"TokenGoesBack", false, []porcupine.Operation{
			op(0, 0, 1, acq("a"), granted("L1", 5)),
			op(0, 2, 3, rel("a", "L1"), Output{Status: 200}),
			op(1, 4, 5, acq("a"), granted("L2", 4)),
		}},
		{"ConcurrentAcquiresOneWins", true, []porcupine.Operation{
			op(0, 0, 5, acq("a"), granted("L1", 1)),
			op(1, 1, 4, acq("a"), Output{Status: 409}),
		}},
		{"StaleReadAfterRelease", false, []porcupine.Operation{
			op(0, 0, 1, acq("a"), granted("L1", 1)),
			op(0, 2, 3, rel("a", "L1"), Output{Status: 200}),
			op(1, 4, 5, get("a"), Output{Status: 200, State: "held", Lease: "L1", Token: 1, Holder: 0}),
		}},
		{"UnknownAcquireMayHaveHappened", true, []porcupine.Operation{
			op(0, 0, math.MaxInt64, acq("a"), Output{Unknown: true}),
			op(1, 2, 3, acq("a"), Output{Status: 409}),
			op(1, 4, 5, get("a"), Output{Status: 200, State: "held", Lease: "L9", Token: 7, Holder: 0}),
		}},
		{"UnknownAcquireMayNotHaveHappened", true, []porcupine.Operation{
			op(0, 0, math.MaxInt64, acq("a"), Output{Unknown: true}),
			op(1, 2, 3, acq("a"), granted("L2", 2)),
		}},
		{"SessionDeleteReleases", true, []porcupine.Operation{
			op(0, 0, 1, Input{Op: OpSessionCreate}, Output{Status: 201, Session: "S"}),
			op(0, 2, 3, Input{Op: OpAcquire, Name: "a", Session: "S"}, granted("L1", 1)),
			op(0, 4, 5, Input{Op: OpSessionDelete, Session: "S"}, Output{Status: 204}),
			op(1, 6, 7, acq("a"), granted("L2", 2)),
		}},
		{"AcquireWithDeletedSession", false, []porcupine.Operation{
			op(0, 0, 1, Input{Op: OpSessionCreate}, Output{Status: 201, Session: "S"}),
			op(0, 2, 3, Input{Op: OpSessionDelete, Session: "S"}, Output{Status: 204}),
			op(0, 4, 5, Input{Op: OpAcquire, Name: "a", Session: "S"}, granted("L1", 1)),
		}},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperations(model, c.ops); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}
