package chaos

import (
	"math"
	"slices"
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

// Semaphores (limit 3) and read/write locks.
func sem(name string) Input { return Input{Op: OpAcquire, Name: name, Limit: 3} }
func semOp(op Op, name, lease string) Input {
	return Input{Op: op, Name: name, Lease: lease, Limit: 3}
}
func rwShared(name string) Input { return Input{Op: OpAcquire, Name: name, RW: true, Shared: true} }
func rwExcl(name string) Input   { return Input{Op: OpAcquire, Name: name, RW: true} }
func rwOp(op Op, name, lease string) Input {
	return Input{Op: op, Name: name, Lease: lease, RW: true}
}

func slotGranted(limit int, mode, lease string, token uint64) Output {
	return Output{Status: 200, State: "acquired", Lease: lease, Token: token, Limit: limit, Mode: mode}
}

// semRead is a semaphore's status read showing holders (client, lease,
// token), in that order.
func semRead(holders ...Holder) Output {
	return Output{Status: 200, State: "held", Lease: holders[0].Lease, Token: holders[0].Token,
		Holder: holders[0].Client, Limit: 3, Mode: "exclusive", Holders: holders}
}

func h(client int, lease string, token uint64) Holder {
	return Holder{Client: client, Lease: lease, Token: token}
}

func TestModel_Slots(t *testing.T) {
	s := func(lease string, token uint64) Output { return slotGranted(3, "exclusive", lease, token) }
	r := func(lease string, token uint64) Output { return slotGranted(1, "shared", lease, token) }
	w := func(lease string, token uint64) Output { return slotGranted(1, "exclusive", lease, token) }
	busy := Output{Status: 409, Code: "lock_held"}
	ok := Output{Status: 200}
	missing := Output{Status: 404, Code: "lock_not_found"}
	full := []porcupine.Operation{ // three slots, two of them client 0's
		op(0, 0, 1, sem("s"), s("L1", 1)),
		op(0, 2, 3, sem("s"), s("L2", 2)),
		op(1, 4, 5, sem("s"), s("L3", 3)),
	}
	then := func(ops ...porcupine.Operation) []porcupine.Operation { return append(slices.Clone(full), ops...) }
	cases := []struct {
		name string
		ok   bool
		ops  []porcupine.Operation
	}{
		// Semaphores.
		{"SemaphoreFullRefuses", true, then(op(2, 10, 11, sem("s"), busy))},
		{"SemaphoreOverLimit", false, then(op(2, 10, 11, sem("s"), s("L4", 4)))},
		{"SemaphoreRefusedWithAFreeSlot", false, append(full[:2:2], op(2, 10, 11, sem("s"), busy))},
		{"SemaphoreLimitMismatch", false, then(op(2, 10, 11, sem("s"), Output{Status: 409, Code: "limit_mismatch"}))},
		{"SemaphoreAnswersWithItsLimit", false, []porcupine.Operation{op(0, 0, 1, sem("s"), slotGranted(2, "exclusive", "L1", 1))}},
		{"SemaphoreNeverHeld", false, []porcupine.Operation{
			op(0, 0, 1, sem("s"), s("L1", 1)),
			op(0, 2, 3, sem("s"), Output{Status: 200, State: "held", Lease: "L1", Token: 1, Limit: 3, Mode: "exclusive"}),
		}},
		{"SemaphoreReleaseFreesASlot", true, then(
			op(0, 10, 11, semOp(OpRelease, "s", "L2"), ok),
			op(2, 12, 13, sem("s"), s("L4", 4)),
			op(2, 14, 15, semOp(OpGet, "s", ""), semRead(h(0, "L1", 1), h(1, "L3", 3), h(2, "L4", 4))),
		)},
		{"SemaphoreStaleToken", false, then(
			op(0, 10, 11, semOp(OpRelease, "s", "L2"), ok),
			op(2, 12, 13, sem("s"), s("L4", 3)),
		)},
		{"SemaphoreTokenBelowAnEarlierGrant", false, []porcupine.Operation{
			op(0, 0, 1, sem("s"), s("L1", 5)),
			op(1, 2, 3, sem("s"), s("L2", 4)),
		}},
		{"SemaphoreConcurrentGrantsInEitherOrder", true, []porcupine.Operation{
			op(0, 0, 10, sem("s"), s("L1", 5)),
			op(1, 1, 9, sem("s"), s("L2", 4)),
		}},
		{"SemaphoreReleaseTwice", false, then(
			op(0, 10, 11, semOp(OpRelease, "s", "L2"), ok),
			op(0, 12, 13, semOp(OpRelease, "s", "L2"), ok),
		)},
		{"SemaphoreReleasedThen404", true, then(
			op(0, 10, 11, semOp(OpRelease, "s", "L2"), ok),
			op(0, 12, 13, semOp(OpRelease, "s", "L2"), missing),
			op(0, 14, 15, semOp(OpRenew, "s", "L1"), Output{Status: 200, Lease: "L1", Token: 1}),
		)},
		{"SemaphoreRenewOfAReleasedSlot", false, then(
			op(0, 10, 11, semOp(OpRelease, "s", "L2"), ok),
			op(0, 12, 13, semOp(OpRenew, "s", "L2"), Output{Status: 200, Lease: "L2", Token: 2}),
		)},
		{"SemaphoreRenewShowsAnotherToken", false, then(op(0, 10, 11, semOp(OpRenew, "s", "L1"), Output{Status: 200, Lease: "L1", Token: 2}))},
		{"SemaphoreLiveSlotNotFound", false, then(op(0, 10, 11, semOp(OpRelease, "s", "L1"), missing))},
		{"SemaphoreAnotherClientsLease", false, then(op(1, 10, 11, semOp(OpRelease, "s", "L1"), ok))},
		{"SemaphoreReadMissesAHolder", false, then(op(2, 10, 11, semOp(OpGet, "s", ""), semRead(h(0, "L1", 1), h(1, "L3", 3))))},
		{"SemaphoreReadShowsAReleasedSlot", false, then(
			op(1, 10, 11, semOp(OpRelease, "s", "L3"), ok),
			op(2, 12, 13, semOp(OpGet, "s", ""), semRead(h(0, "L1", 1), h(0, "L2", 2), h(1, "L3", 3))),
		)},
		{"SemaphoreUnknownGrantLearnedByARead", true, []porcupine.Operation{
			op(0, 0, 1, sem("s"), s("L1", 1)),
			op(2, 2, math.MaxInt64, sem("s"), Output{Unknown: true}),
			op(1, 4, 5, sem("s"), s("L3", 3)),
			op(1, 6, 7, sem("s"), busy),
			op(1, 8, 9, semOp(OpGet, "s", ""), semRead(h(0, "L1", 1), h(2, "L2", 2), h(1, "L3", 3))),
			op(2, 10, 11, semOp(OpRelease, "s", "L2"), ok),
			op(1, 12, 13, sem("s"), s("L4", 4)),
		}},
		{"SemaphoreUnknownGrantMayNotHaveHappened", true, []porcupine.Operation{
			op(2, 0, math.MaxInt64, sem("s"), Output{Unknown: true}),
			op(0, 1, 2, sem("s"), s("L1", 1)),
			op(0, 3, 4, sem("s"), s("L2", 2)),
			op(1, 5, 6, sem("s"), s("L3", 3)),
		}},
		{"SemaphoreUnknownGrantOverLimit", false, []porcupine.Operation{
			op(2, 0, math.MaxInt64, sem("s"), Output{Unknown: true}),
			op(0, 1, 2, sem("s"), s("L1", 1)),
			op(0, 3, 4, sem("s"), s("L2", 2)),
			op(1, 5, 6, sem("s"), s("L3", 3)),
			op(1, 7, 8, semOp(OpGet, "s", ""), semRead(h(0, "L1", 1), h(0, "L2", 2), h(1, "L3", 3), h(2, "L9", 9))),
		}},
		{"SemaphoreUnknownReleaseMayHaveHappened", true, then(
			op(1, 10, math.MaxInt64, semOp(OpRelease, "s", "L3"), Output{Unknown: true}),
			op(2, 12, 13, sem("s"), s("L4", 4)),
		)},

		// Read/write locks.
		{"ReadersTogether", true, []porcupine.Operation{
			op(0, 0, 1, rwShared("rw"), r("R1", 1)),
			op(1, 2, 3, rwShared("rw"), r("R2", 2)),
			op(2, 4, 5, rwExcl("rw"), busy),
			op(2, 6, 7, rwOp(OpGet, "rw", ""), Output{Status: 200, State: "held", Lease: "R1", Token: 1, Holder: 0,
				Limit: 1, Mode: "shared", Holders: []Holder{h(0, "R1", 1), h(1, "R2", 2)}}),
		}},
		{"WriterWithAReader", false, []porcupine.Operation{
			op(0, 0, 1, rwShared("rw"), r("R1", 1)),
			op(1, 2, 3, rwExcl("rw"), w("W1", 2)),
		}},
		{"ReaderWithAWriter", false, []porcupine.Operation{
			op(0, 0, 1, rwExcl("rw"), w("W1", 1)),
			op(1, 2, 3, rwShared("rw"), r("R1", 2)),
		}},
		{"ReaderRefusedWhileReadersHold", false, []porcupine.Operation{
			op(0, 0, 1, rwShared("rw"), r("R1", 1)),
			op(1, 2, 3, rwShared("rw"), busy),
		}},
		{"ReaderAgainExtends", true, []porcupine.Operation{
			op(0, 0, 1, rwShared("rw"), r("R1", 1)),
			op(0, 2, 3, rwShared("rw"), Output{Status: 200, State: "held", Lease: "R1", Token: 1, Limit: 1, Mode: "shared"}),
		}},
		{"ReaderAgainIsNoNewHold", false, []porcupine.Operation{
			op(0, 0, 1, rwShared("rw"), r("R1", 1)),
			op(0, 2, 3, rwShared("rw"), r("R2", 2)),
		}},
		{"NoUpgrade", true, []porcupine.Operation{
			op(0, 0, 1, rwShared("rw"), r("R1", 1)),
			op(0, 2, 3, rwExcl("rw"), busy),
		}},
		{"UpgradeGranted", false, []porcupine.Operation{
			op(0, 0, 1, rwShared("rw"), r("R1", 1)),
			op(0, 2, 3, rwExcl("rw"), Output{Status: 200, State: "held", Lease: "R1", Token: 1, Limit: 1, Mode: "exclusive"}),
		}},
		{"WriterAfterTheReadersLeave", true, []porcupine.Operation{
			op(0, 0, 1, rwShared("rw"), r("R1", 1)),
			op(1, 2, 3, rwShared("rw"), r("R2", 2)),
			op(0, 4, 5, rwOp(OpRelease, "rw", "R1"), ok),
			op(2, 6, 7, rwExcl("rw"), busy),
			op(1, 8, 9, rwOp(OpRelease, "rw", "R2"), ok),
			op(2, 10, 11, rwExcl("rw"), w("W1", 3)),
			op(0, 12, 13, rwOp(OpGet, "rw", ""), Output{Status: 200, State: "held", Lease: "W1", Token: 3, Holder: 2}),
		}},
		{"WriterAnswersAsAMutex", true, []porcupine.Operation{
			op(2, 0, 1, rwExcl("rw"), Output{Status: 200, State: "acquired", Lease: "W1", Token: 1}),
			op(2, 2, 3, rwExcl("rw"), Output{Status: 200, State: "held", Lease: "W1", Token: 1}),
		}},
		{"ReaderAnswersAsAMutex", false, []porcupine.Operation{
			op(2, 0, 1, rwShared("rw"), Output{Status: 200, State: "acquired", Lease: "R1", Token: 1}),
		}},
		{"WriterReadAsShared", false, []porcupine.Operation{
			op(2, 0, 1, rwExcl("rw"), w("W1", 1)),
			op(0, 2, 3, rwOp(OpGet, "rw", ""), Output{Status: 200, State: "held", Lease: "W1", Token: 1, Holder: 2,
				Limit: 1, Mode: "shared", Holders: []Holder{h(2, "W1", 1)}}),
		}},
		{"ReaderStaleToken", false, []porcupine.Operation{
			op(0, 0, 1, rwExcl("rw"), w("W1", 7)),
			op(0, 2, 3, rwOp(OpRelease, "rw", "W1"), ok),
			op(1, 4, 5, rwShared("rw"), r("R1", 6)),
		}},
		{"ConcurrentReaderAndWriterOneWins", true, []porcupine.Operation{
			op(0, 0, 10, rwShared("rw"), r("R1", 1)),
			op(1, 1, 9, rwExcl("rw"), busy),
		}},
		{"UnknownWriterBlocksAReader", true, []porcupine.Operation{
			op(2, 0, math.MaxInt64, rwExcl("rw"), Output{Unknown: true}),
			op(0, 1, 2, rwShared("rw"), busy),
			op(0, 3, 4, rwOp(OpGet, "rw", ""), Output{Status: 200, State: "held", Lease: "W9", Token: 9, Holder: 2}),
		}},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperations(model, c.ops); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}

// TestParseOutput_Shaped: a semaphore's status read becomes the model's
// holders, logins turned into clients.
func TestParseOutput_Shaped(t *testing.T) {
	body := `{"status":"held","lease_id":"a","fencing_token":4,"holder":"u1","limit":3,"mode":"exclusive",
		"holders":[{"lease_id":"a","fencing_token":4,"holder":"u1"},{"lease_id":"b","fencing_token":7,"holder":"root"}]}`
	out := parseOutput(Input{Op: OpGet, Name: "s", Limit: 3}, 200, []byte(body))
	want := []Holder{{Client: 1, Lease: "a", Token: 4}, {Client: -1, Lease: "b", Token: 7}}
	if out.Limit != 3 || out.Mode != "exclusive" || out.Holder != 1 || !slices.Equal(out.Holders, want) {
		t.Fatalf("parsed %+v", out)
	}
	if out := parseOutput(Input{Op: OpAcquire, Name: "s", Limit: 3}, 409, []byte(`{"code":"limit_mismatch","limit":2}`)); out.Code != "limit_mismatch" {
		t.Fatalf("409 parsed %+v", out)
	}
	el := Input{Op: OpAcquire, Name: "e", Election: true, Value: "v"}
	if out := parseOutput(el, 200, []byte(`{"status":"leader","leader":"u2","lease_id":"L","term":9,"value":"v"}`)); out.Holder != 2 || out.Token != 9 || out.Value != "v" || out.Lease != "L" {
		t.Fatalf("campaign parsed %+v", out)
	}
	if out := parseOutput(el, 409, []byte(`{"code":"lock_held","leader":{"holder":"u1"}}`)); out.Code != "lock_held" || out.Holder != -1 {
		t.Fatalf("campaign's 409 parsed %+v", out)
	}
}

func campaignIn(name, value string) Input {
	return Input{Op: OpAcquire, Name: name, Election: true, Value: value}
}
func electionIn(op Op, name, lease, value string) Input {
	return Input{Op: op, Name: name, Lease: lease, Election: true, Value: value}
}

func TestModel_Election(t *testing.T) {
	leader := func(client int, lease string, term uint64, value string) Output {
		return Output{Status: 200, State: "leader", Holder: client, Lease: lease, Token: term, Value: value}
	}
	busy := Output{Status: 409, Code: "lock_held", Holder: -1}
	missing := Output{Status: 404, Code: "lock_not_found"}
	elected := []porcupine.Operation{op(0, 0, 1, campaignIn("e", "a"), leader(0, "L1", 1, "a"))}
	then := func(ops ...porcupine.Operation) []porcupine.Operation { return append(slices.Clone(elected), ops...) }
	cases := []struct {
		name string
		ok   bool
		ops  []porcupine.Operation
	}{
		{"OtherCampaignRefused", true, then(op(1, 2, 3, campaignIn("e", "b"), busy))},
		{"TwoLeaders", false, then(op(1, 2, 3, campaignIn("e", "b"), leader(1, "L2", 2, "b")))},
		{"RefusedWhileVacant", false, []porcupine.Operation{op(1, 2, 3, campaignIn("e", "b"), busy)}},
		{"CampaignAgainKeepsTheTerm", true, then(
			op(0, 2, 3, campaignIn("e", "a2"), leader(0, "L1", 1, "a2")),
			op(1, 4, 5, electionIn(OpGet, "e", "", ""), leader(0, "L1", 1, "a2")),
		)},
		{"CampaignAgainIsANewTerm", false, then(op(0, 2, 3, campaignIn("e", "a2"), leader(0, "L2", 2, "a2")))},
		{"ProclaimAndRead", true, then(
			op(0, 2, 3, electionIn(OpRenew, "e", "L1", "x"), leader(0, "L1", 1, "x")),
			op(1, 4, 5, electionIn(OpGet, "e", "", ""), leader(0, "L1", 1, "x")),
		)},
		{"ReadShowsAnOldValue", false, then(
			op(0, 2, 3, electionIn(OpRenew, "e", "L1", "x"), leader(0, "L1", 1, "x")),
			op(1, 4, 5, electionIn(OpGet, "e", "", ""), leader(0, "L1", 1, "a")),
		)},
		{"ProclaimByAnother", false, then(op(1, 2, 3, electionIn(OpRenew, "e", "L1", "x"), leader(1, "L1", 1, "x")))},
		{"ResignThenANewTerm", true, then(
			op(0, 2, 3, electionIn(OpRelease, "e", "L1", ""), Output{Status: 200, State: "resigned"}),
			op(0, 4, 5, electionIn(OpRenew, "e", "L1", "x"), missing),
			op(1, 6, 7, electionIn(OpGet, "e", "", ""), Output{Status: 200, State: "vacant"}),
			op(1, 8, 9, campaignIn("e", "b"), leader(1, "L2", 2, "b")),
		)},
		{"StaleTerm", false, then(
			op(0, 2, 3, electionIn(OpRelease, "e", "L1", ""), Output{Status: 200, State: "resigned"}),
			op(1, 4, 5, campaignIn("e", "b"), leader(1, "L2", 1, "b")),
		)},
		{"LeaderNotFound", false, then(op(0, 2, 3, electionIn(OpRelease, "e", "L1", ""), missing))},
		{"VacantWhileLed", false, then(op(1, 2, 3, electionIn(OpGet, "e", "", ""), Output{Status: 200, State: "vacant"}))},
		{"UnknownCampaignLearnedByARead", true, []porcupine.Operation{
			op(0, 0, math.MaxInt64, campaignIn("e", "a"), Output{Unknown: true}),
			op(1, 1, 2, campaignIn("e", "b"), busy),
			op(1, 3, 4, electionIn(OpGet, "e", "", ""), leader(0, "L7", 7, "a")),
		}},
		{"UnknownProclaimMayHaveHappened", true, then(
			op(0, 2, math.MaxInt64, electionIn(OpRenew, "e", "L1", "x"), Output{Unknown: true}),
			op(1, 4, 5, electionIn(OpGet, "e", "", ""), leader(0, "L1", 1, "x")),
			op(1, 6, 7, electionIn(OpGet, "e", "", ""), leader(0, "L1", 1, "x")),
		)},
		{"UnknownProclaimTakesEffectOnce", false, then(
			op(0, 2, math.MaxInt64, electionIn(OpRenew, "e", "L1", "x"), Output{Unknown: true}),
			op(1, 4, 5, electionIn(OpGet, "e", "", ""), leader(0, "L1", 1, "x")),
			op(0, 6, 7, electionIn(OpRenew, "e", "L1", "y"), leader(0, "L1", 1, "y")),
			op(1, 8, 9, electionIn(OpGet, "e", "", ""), leader(0, "L1", 1, "x")),
		)},
	}
	for _, c := range cases {
		if got := porcupine.CheckOperations(model, c.ops); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", c.name, got, c.ok)
		}
	}
}
