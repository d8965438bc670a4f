package state

import (
	"github.com/google/uuid"
)

// EventKind is what happened to a lock.
type EventKind uint8

// Lock events, as named in the API.
const (
	EventAcquired EventKind = 1 << iota // a new grant
	EventReleased                       // released, or its session deleted
	EventExpired                        // its TTL or its session ran out
	EventRenewed                        // renewed, or re-acquired by its holder for longer
)

// AllEvents is every kind, the "*" of webhook filters.
const AllEvents = EventAcquired | EventReleased | EventExpired | EventRenewed

var eventNames = map[EventKind]string{
	EventAcquired: "acquired", EventReleased: "released", EventExpired: "expired", EventRenewed: "renewed",
}

// String is the event's API name.
func (k EventKind) String() string { return eventNames[k] }

// ParseEventKind returns the kind named name.
func ParseEventKind(name string) (EventKind, bool) {
	for k, n := range eventNames {
		if n == name {
			return k, true
		}
	}
	return 0, false
}

// Event is one entry of the outbox. Seq numbers are consecutive.
type Event struct {
	Seq      uint64
	Kind     EventKind
	Lock     string
	HolderID uuid.UUID
	Token    uint64
	Time     int64 // unix nanoseconds
}

// Outbox bounds: the most recent OutboxRetain events are kept for event
// streams to resume from; older ones go once every active webhook has
// acknowledged them; past OutboxMax the oldest go anyway and the webhooks
// that still needed them are deactivated rather than silently skipped.
const (
	OutboxRetain = 50_000
	OutboxMax    = 200_000
)

// outbox is append-only with a moving start, so a snapshot can share its
// backing array: it copies the slice header and later appends never write
// inside it.
type outbox struct {
	events  []Event
	nextSeq uint64 // the seq the next event receives; starts at 1
}

func (s *State) emit(now int64, kind EventKind, l *Lock) {
	s.outbox.events = append(s.outbox.events, Event{Seq: s.outbox.nextSeq, Kind: kind, Lock: l.Name,
		HolderID: l.HolderID, Token: l.Token, Time: now})
	s.outbox.nextSeq++
}

// LastEventSeq is the seq of the newest event, 0 before the first.
func (s *State) LastEventSeq() uint64 { return s.outbox.nextSeq - 1 }

// EventsAfter returns up to limit events with seq > after, oldest first.
// gap is true when events right after after were compacted away.
func (s *State) EventsAfter(after uint64, limit int) (events []Event, gap bool) {
	ev := s.outbox.events
	if len(ev) == 0 {
		return nil, after+1 < s.outbox.nextSeq
	}
	first := ev[0].Seq
	if after+1 < first {
		return nil, true
	}
	i := int(after + 1 - first)
	if i >= len(ev) {
		return nil, false
	}
	return ev[i:min(len(ev), i+limit)], false
}

// compactOutbox drops what nobody needs any more, deterministically, once
// per batch.
func (s *State) compactOutbox() {
	ev := s.outbox.events
	if len(ev) <= OutboxRetain {
		return
	}
	last := s.LastEventSeq()
	keepFrom := min(s.minWebhookCursor(last), last-OutboxRetain) + 1
	if last-keepFrom+1 > OutboxMax {
		keepFrom = last - OutboxMax + 1
		s.deactivateBehind(keepFrom)
	}
	if drop := int(keepFrom - ev[0].Seq); drop > 0 {
		s.outbox.events = ev[drop:]
	}
	if cap(s.outbox.events) > 2*OutboxMax {
		// Release the dropped prefix's memory; the old array stays valid
		// for any snapshot still reading it.
		s.outbox.events = append([]Event(nil), s.outbox.events...)
	}
}

// FirstEventSeq is the seq of the oldest event still kept, or the next
// seq when none is.
func (s *State) FirstEventSeq() uint64 {
	if len(s.outbox.events) == 0 {
		return s.outbox.nextSeq
	}
	return s.outbox.events[0].Seq
}
