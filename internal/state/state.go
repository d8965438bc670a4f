package state

import (
	"bytes"
	"fmt"
	"time"

	"github.com/google/btree"
	"github.com/google/uuid"
)

// btreeDegree trades node size against depth; 32 keeps a million locks
// about four levels deep with little per-item overhead.
const btreeDegree = 32

// State is the whole replicated state. The zero value is not usable; call
// New.
type State struct {
	lastNow   int64  // time never goes backwards, whatever the batches say
	nextToken uint64 // the fencing token the next grant receives

	locks    *btree.BTreeG[*Lock]    // by name
	sessions *btree.BTreeG[*Session] // by ID
	users    map[uuid.UUID]*User
	tokens   map[TokenHash]Token
	// revoked remembers static tokens that were rotated or revoked, so the
	// operator's configuration cannot bring them back on restart.
	revoked  map[TokenHash]struct{}
	webhooks map[uuid.UUID]*Webhook
	outbox   outbox
	// nodes maps each cluster member's Raft ID to the HTTP address it
	// advertises, so a follower can forward to the leader.
	nodes map[string]string
	// queues holds the acquires waiting for each lock, in arrival order.
	queues map[string]*waitQueue
	// grants holds GitHub users' access tokens, for asking GitHub again
	// (organization membership); kept apart from User so that no reader
	// of a User carries it.
	grants map[uuid.UUID]string
	// namespaces binds owner namespaces to accounts (isolated tenancy).
	namespaces map[string]NamespaceBinding
	// shapes holds the limit and mode of every name held as anything but
	// a mutex (semaphore slots, read/write locks), while it is held.
	shapes map[string]shape
	// elected holds, for each election with a leader, when that leader
	// was granted the leadership (unix nanoseconds).
	elected map[string]int64

	skew     time.Duration // the current batch's, for grants made by handoff
	version  uint8         // the current batch's log format version: the rules it was written under
	handoffs []Lock        // grants to waiters not yet taken (derived)
	dropped  bool          // queues emptied since TakeQueuesDropped (derived)

	// Derived indexes, rebuilt on restore and never snapshotted.
	lockDeadlines    *btree.BTreeG[*Lock]           // by (FreeAt, Name, Token)
	sessionDeadlines *btree.BTreeG[*Session]        // by (deadline, ID)
	sessionLocks     map[uuid.UUID]map[string]int32 // session → names → slots held with it
	nsByAccount      map[string]map[string]struct{} // account → its namespaces
	counts           counts
}

// New returns an empty State whose first fencing token is 1.
func New() *State {
	return &State{
		nextToken:        1,
		locks:            btree.NewG(btreeDegree, lockLess),
		sessions:         btree.NewG(btreeDegree, sessionLess),
		users:            make(map[uuid.UUID]*User),
		tokens:           make(map[TokenHash]Token),
		revoked:          make(map[TokenHash]struct{}),
		webhooks:         make(map[uuid.UUID]*Webhook),
		outbox:           outbox{nextSeq: 1},
		nodes:            make(map[string]string),
		queues:           make(map[string]*waitQueue),
		grants:           make(map[uuid.UUID]string),
		namespaces:       make(map[string]NamespaceBinding),
		nsByAccount:      make(map[string]map[string]struct{}),
		lockDeadlines:    btree.NewG(btreeDegree, lockDeadlineLess),
		sessionDeadlines: btree.NewG(btreeDegree, sessionDeadlineLess),
		sessionLocks:     make(map[uuid.UUID]map[string]int32),
		shapes:           make(map[string]shape),
		elected:          make(map[string]int64),
		counts:           newCounts(),
	}
}

// lockLess orders slots by name, then token: a mutex's one slot sorts
// where the lock always did.
func lockLess(a, b *Lock) bool {
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.Token < b.Token
}

func sessionLess(a, b *Session) bool { return bytes.Compare(a.ID[:], b.ID[:]) < 0 }

// Apply applies every command of b in order and returns one Result each.
// Time is clamped so that it never runs backwards across batches.
func (s *State) Apply(b Batch) []Result {
	now := max(s.lastNow, b.Now)
	s.lastNow, s.skew, s.version = now, b.Skew, b.Version
	if s.version == 0 {
		s.version = batchVersion // built in memory, not read from a log
	}
	results := make([]Result, len(b.Commands))
	for i, cmd := range b.Commands {
		results[i] = s.apply(now, b.Skew, cmd)
	}
	s.compactOutbox()
	return results
}

func (s *State) apply(now int64, skew time.Duration, cmd Command) Result {
	if cmd == nil {
		return Result{Err: fmt.Errorf("%w: nil command", ErrInvalidCommand)}
	}
	return cmd.apply(s, now, skew)
}

// LastNow is the latest time the state machine has seen (unix nanoseconds).
// Readers clamp their clock to it so that a read never sees time run
// backwards relative to the writes it observes.
func (s *State) LastNow() int64 { return s.lastNow }

// NextToken is the fencing token the next grant will receive.
func (s *State) NextToken() uint64 { return s.nextToken }
