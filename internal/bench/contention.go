package bench

import (
	"fmt"
	"sync/atomic"
)

// contention checks the contended workload from the clients' side: one
// holder of the shared lock at a time, fencing tokens rising in grant order.
type contention struct {
	name       string
	holder     atomic.Int64 // worker id + 1; 0 when nobody holds the lock
	lastToken  atomic.Int64
	violations atomic.Int64
}

// enter records that worker id was granted the lock with token.
func (c *contention) enter(id int, token int64) error {
	if prev := c.holder.Swap(int64(id) + 1); prev != 0 {
		c.violations.Add(1)
		return fmt.Errorf("worker %d was granted %s while worker %d held it", id, c.name, prev-1)
	}
	if last := c.lastToken.Swap(token); token <= last {
		c.violations.Add(1)
		return fmt.Errorf("%s granted with token %d after token %d", c.name, token, last)
	}
	return nil
}

// leave is called before the release is sent: the next grant can only
// come after the release commits.
func (c *contention) leave() { c.holder.Store(0) }

// oneName is the workload on one name, if any: the contended mutex, a
// semaphore's slots, or shared holds. All nil/empty: fresh names.
type oneName struct {
	contended  *contention
	slots      *slotCheck
	sharedName string
}

// slotCheck checks the semaphore workload from the clients' side: never
// more workers holding a slot than the limit. A worker counts itself in
// after its grant's answer and out before it sends the release, so the
// count never exceeds the server's true number of holders.
type slotCheck struct {
	name       string
	limit      int64
	holders    atomic.Int64
	violations atomic.Int64
}

func (c *slotCheck) enter(id int) error {
	if n := c.holders.Add(1); n > c.limit {
		c.violations.Add(1)
		return fmt.Errorf("worker %d was granted a slot of %s while %d workers held one (limit %d)", id, c.name, n-1, c.limit)
	}
	return nil
}

func (c *slotCheck) leave() { c.holders.Add(-1) }
