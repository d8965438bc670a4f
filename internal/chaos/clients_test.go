package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// recorder collects the history, with times relative to its start.
type recorder struct {
	mu      sync.Mutex
	start   time.Time
	ops     []porcupine.Operation
	names   map[string]Input // every name used → how to read it (its shape)
	unknown int
	squats  squats // isolated tenancy: attempts on others' namespaces
}

func newRecorder() *recorder { return &recorder{start: time.Now(), names: map[string]Input{}} }

func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

func (r *recorder) add(client int, in Input, call int64, out Output) {
	ret := r.now()
	if out.Unknown {
		ret = math.MaxInt64 // it may take effect any time from now on
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	if in.Name != "" {
		r.names[in.Name] = Input{Op: OpGet, Name: in.Name, Limit: in.Limit, RW: in.RW, Election: in.Election}
	}
	if out.Unknown {
		r.unknown++
	}
}

func (r *recorder) operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]porcupine.Operation(nil), r.ops...)
}

// lockReads returns a status read of every name used.
func (r *recorder) lockReads() []Input {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Input
	for _, in := range r.names {
		out = append(out, in)
	}
	return out
}

func (r *recorder) unknownCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unknown
}

// client is one user issuing random operations against random nodes.
type client struct {
	id      int
	round   int // lock names are per round
	rng     *rand.Rand
	rec     *recorder
	cl      *chaosCluster
	http    *http.Client
	token   string
	leases  map[string]string // lock → lease this client believes it holds
	slots   map[string]Input  // lease → the semaphore, read/write lock or election it holds
	values  int               // campaigns and proclaims sent, for distinct values
	session string
	sNo     int // sessions created, for session-lock names
}

func newClient(id, round int, rng *rand.Rand, rec *recorder, cl *chaosCluster) *client {
	return &client{id: id, round: round, rng: rng, rec: rec, cl: cl, leases: map[string]string{}, slots: map[string]Input{},
		http: &http.Client{Timeout: 3 * time.Second}, token: tokenOf(id)}
}

// sharedLock is one of eight names every client contends for. Names are
// per round and TTLs an hour, so nothing expires while it is used.
func (c *client) sharedLock() string {
	return fmt.Sprintf("%slk/%d/%d", c.cl.owner(teamGroup), c.round, c.rng.IntN(8))
}

// Semaphore, read/write lock and election names, per round: two of each,
// the semaphores of semLimit slots. Isolated tenancy does not use them.
const semLimit = 3

func (c *client) semaphore() Input {
	return Input{Name: fmt.Sprintf("sem/%d/%d", c.round, c.rng.IntN(2)), Limit: semLimit}
}

func (c *client) rwLock() Input {
	return Input{Name: fmt.Sprintf("rw/%d/%d", c.round, c.rng.IntN(2)), RW: true}
}

func (c *client) election() Input {
	return Input{Name: fmt.Sprintf("el/%d/%d", c.round, c.rng.IntN(2)), Election: true}
}

// lockName picks the name of an acquire or read: a shared mutex 3 times
// in 8, else a semaphore, a read/write lock or an election (in shared
// tenancy; isolated tenancy uses the mutexes alone).
func (c *client) lockName() Input {
	if c.cl.isolated {
		return Input{Name: c.sharedLock()}
	}
	switch c.rng.IntN(8) {
	case 0, 1:
		return c.semaphore()
	case 2, 3:
		return c.rwLock()
	case 4:
		return c.election()
	}
	return Input{Name: c.sharedLock()}
}

// value is a fresh value for a campaign or proclaim.
func (c *client) value() string {
	c.values++
	return fmt.Sprintf("u%d-v%d", c.id, c.values)
}

func (c *client) run(ctx context.Context) {
	for ctx.Err() == nil {
		c.step()
	}
}

func (c *client) step() {
	if c.cl.isolated && c.rng.IntN(20) == 0 {
		c.squat()
		return
	}
	switch r := c.rng.IntN(100); {
	case r < 30:
		c.acquireName(c.lockName())
	case r < 50:
		c.releaseOrRenew(OpRelease)
	case r < 60:
		c.releaseOrRenew(OpRenew)
	case r < 80:
		c.read(c.lockName())
	default:
		c.sessionStep()
	}
}

func (c *client) acquire(name, session string) {
	out := c.do(Input{Op: OpAcquire, Name: name, Session: session})
	if out.Status == http.StatusOK {
		c.leases[name] = out.Lease
	}
}

// acquireName acquires a mutex, a semaphore slot, a read/write lock in a
// random mode, or campaigns in an election.
func (c *client) acquireName(in Input) {
	if !in.shaped() && !in.Election {
		c.acquire(in.Name, "")
		return
	}
	in.Op, in.Shared = OpAcquire, in.RW && c.rng.IntN(2) == 0
	if in.Election {
		in.Value = c.value()
	}
	if out := c.do(in); out.Status == http.StatusOK {
		c.slots[out.Lease] = Input{Name: in.Name, Limit: in.Limit, RW: in.RW, Election: in.Election}
	}
}

// read reads a name's status; a shaped name's holders may show slots of
// this client's whose grant it never heard of, which it then releases in
// time (they would otherwise fill the name for the rest of the round).
func (c *client) read(in Input) {
	in.Op = OpGet
	out := c.do(in)
	if in.Election && out.State == "leader" && out.Holder == c.id {
		c.slots[out.Lease] = Input{Name: in.Name, Election: true}
	}
	if !in.shaped() || out.State != "held" {
		return
	}
	holders := out.Holders
	if len(holders) == 0 { // a read/write lock held exclusively reads as a mutex
		holders = []Holder{{Client: out.Holder, Lease: out.Lease}}
	}
	for _, h := range holders {
		if h.Client == c.id {
			c.slots[h.Lease] = Input{Name: in.Name, Limit: in.Limit, RW: in.RW}
		}
	}
}

func (c *client) releaseOrRenew(op Op) {
	if len(c.slots) > 0 && (len(c.leases) == 0 || c.rng.IntN(2) == 0) {
		for lease, in := range c.slots {
			in.Op, in.Lease = op, lease
			if in.Election && op == OpRenew {
				in.Value = c.value() // a proclaim
			}
			out := c.do(in)
			if op == OpRelease && (out.Status == http.StatusOK || out.Status == http.StatusNotFound) {
				delete(c.slots, lease)
			}
			return
		}
	}
	for name, lease := range c.leases {
		out := c.do(Input{Op: op, Name: name, Lease: lease})
		if op == OpRelease && (out.Status == http.StatusOK || out.Status == http.StatusNotFound) {
			delete(c.leases, name)
		}
		return
	}
}

// sessionStep keeps one session per client, locking names of its own and
// replacing it now and then; sessions live 300 s and are used for less.
func (c *client) sessionStep() {
	switch {
	case c.session == "":
		out := c.do(Input{Op: OpSessionCreate})
		if out.Status == http.StatusCreated {
			c.session, c.sNo = out.Session, c.sNo+1
		}
	case c.rng.IntN(10) == 0:
		c.do(Input{Op: OpSessionDelete, Session: c.session})
		c.session = ""
	case c.rng.IntN(3) == 0:
		c.do(Input{Op: OpKeepAlive, Session: c.session})
	default:
		c.acquire(fmt.Sprintf("%ssl/%d/%d/%d", c.cl.owner(user(c.id)), c.round, c.id, c.sNo), c.session)
	}
}

// do sends in to a random running node and records it.
func (c *client) do(in Input) Output {
	in.Client = c.id
	urls := c.cl.up()
	if len(urls) == 0 {
		time.Sleep(20 * time.Millisecond)
		return Output{Status: http.StatusServiceUnavailable}
	}
	call := c.rec.now()
	out := c.send(urls[c.rng.IntN(len(urls))], in)
	c.rec.add(c.id, in, call, out)
	return out
}

func (c *client) send(base string, in Input) Output {
	method, path, body := request(in)
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return noAnswer(in)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || (resp.StatusCode/100 == 2 && resp.StatusCode != http.StatusNoContent && !json.Valid(data)) {
		// Cut off mid-answer (a node killed while forwarding, say): the
		// status line arrived, but not what it said.
		return noAnswer(in)
	}
	return parseOutput(in, resp.StatusCode, data)
}

// noAnswer is a request whose answer never (fully) arrived: a write may
// have happened; a read tells nothing.
func noAnswer(in Input) Output {
	return Output{Unknown: in.Op != OpGet, Status: http.StatusServiceUnavailable}
}

func request(in Input) (method, path string, body any) {
	if in.Election {
		return electionRequest(in)
	}
	switch in.Op {
	case OpAcquire:
		b := map[string]any{"ttl_seconds": 3600}
		if in.Session != "" {
			b["session_id"] = in.Session
		}
		switch {
		case in.Limit > 0:
			b["limit"] = in.Limit
		case in.RW && in.Shared:
			b["mode"] = "shared"
		case in.RW:
			b["mode"] = "exclusive"
		}
		return "POST", "/locks/" + in.Name + "/acquire", b
	case OpRenew:
		return "POST", "/locks/" + in.Name + "/renew", map[string]any{"lease_id": in.Lease, "ttl_seconds": 3600}
	case OpRelease:
		return "POST", "/locks/" + in.Name + "/release", map[string]any{"lease_id": in.Lease}
	case OpGet:
		return "GET", "/locks/" + in.Name, nil
	case OpSessionCreate:
		return "POST", "/sessions", map[string]any{"ttl_seconds": 300}
	case OpKeepAlive:
		return "POST", "/sessions/" + in.Session + "/keepalive", nil
	}
	return "DELETE", "/sessions/" + in.Session, nil
}

// electionRequest: a campaign that does not wait, a proclaim, a
// resignation or a read.
func electionRequest(in Input) (method, path string, body any) {
	switch in.Op {
	case OpAcquire:
		return "POST", "/elections/" + in.Name + "/campaign", map[string]any{"ttl_seconds": 3600, "value": in.Value}
	case OpRenew:
		return "POST", "/elections/" + in.Name + "/proclaim", map[string]any{"lease_id": in.Lease, "value": in.Value}
	case OpRelease:
		return "POST", "/elections/" + in.Name + "/resign", map[string]any{"lease_id": in.Lease}
	}
	return "GET", "/elections/" + in.Name, nil
}

// parseOutput turns an answer into the model's terms. A 503 other than
// no_leader or shutting_down may have been applied; a read that was not
// answered tells nothing and constrains nothing.
func parseOutput(in Input, status int, data []byte) Output {
	var b struct {
		Status       string `json:"status"`
		LeaseID      string `json:"lease_id"`
		FencingToken uint64 `json:"fencing_token"`
		Holder       string `json:"holder"`
		SessionID    string `json:"session_id"`
		Code         string `json:"code"`
		Limit        int    `json:"limit"`
		Mode         string `json:"mode"`
		Holders      []struct {
			LeaseID      string `json:"lease_id"`
			FencingToken uint64 `json:"fencing_token"`
			Holder       string `json:"holder"`
			SessionID    string `json:"session_id"`
		} `json:"holders"`
		Leader json.RawMessage `json:"leader"` // an election's leader: a login, or on a 409 the leader's lock
		Term   uint64          `json:"term"`
		Value  string          `json:"value"`
	}
	json.Unmarshal(data, &b)
	if status == http.StatusServiceUnavailable && b.Code != "no_leader" && b.Code != "shutting_down" && in.Op != OpGet {
		return Output{Unknown: true}
	}
	out := Output{Status: status, State: b.Status, Lease: b.LeaseID, Token: b.FencingToken, Session: b.SessionID,
		Holder: clientOf(b.Holder), Code: b.Code, Limit: b.Limit, Mode: b.Mode}
	if in.Election {
		var leader string
		json.Unmarshal(b.Leader, &leader)
		out.Holder, out.Token, out.Value = clientOf(leader), b.Term, b.Value
	}
	for _, h := range b.Holders {
		out.Holders = append(out.Holders, Holder{Client: clientOf(h.Holder), Lease: h.LeaseID, Token: h.FencingToken, Session: h.SessionID})
	}
	return out
}

// clientOf is the client whose login is holder ("u3" → 3), or -1.
func clientOf(holder string) int {
	n := -1
	if h, ok := strings.CutPrefix(holder, "u"); ok {
		fmt.Sscan(h, &n)
	}
	return n
}
