package state

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/google/uuid"
)

// Webhook limits.
const (
	MaxWebhooksPerUser = 10
	MaxWebhookURLLen   = 2048
	MaxWebhookSecret   = 1024
)

// Webhook is a registered receiver of lock events. It is immutable once
// stored.
type Webhook struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	URL       string
	Secret    string // empty: payloads are not signed
	Events    EventKind
	Pattern   string // lock-name glob; empty matches every lock
	CreatedAt int64
	// Cursor is the seq of the last event the webhook has acknowledged
	// (or skipped as not matching); delivery resumes after it.
	Cursor uint64
	// FailingSince is when its current run of failed deliveries began,
	// 0 while deliveries succeed.
	FailingSince   int64
	Active         bool
	InactiveReason string
}

// Wants reports whether the webhook should receive e. Elections' events
// are not lock events for webhooks: their Event.Lock (an ElectionKey) is
// no lock name, and a payload must carry one.
func (w *Webhook) Wants(e Event) bool {
	return w.Events&e.Kind != 0 && !isElectionKey(e.Lock) && (w.Pattern == "" || MatchPattern(w.Pattern, e.Lock))
}

func (s *State) createWebhook(now int64, c CreateWebhook) Result {
	if _, ok := s.users[c.UserID]; !ok {
		return Result{Err: ErrUnknownUser}
	}
	if _, exists := s.webhooks[c.ID]; exists {
		return Result{Err: ErrInvalidCommand}
	}
	if len(s.WebhooksOf(c.UserID)) >= MaxWebhooksPerUser {
		return Result{Err: ErrTooManyWebhooks}
	}
	w := &Webhook{ID: c.ID, UserID: c.UserID, URL: c.URL, Secret: c.Secret, Events: c.Events,
		Pattern: c.Pattern, CreatedAt: now, Cursor: s.LastEventSeq(), Active: true}
	s.webhooks[c.ID] = w
	return Result{Webhook: *w}
}

func (s *State) deleteWebhook(c DeleteWebhook) Result {
	w, ok := s.webhooks[c.ID]
	if !ok || w.UserID != c.UserID {
		return Result{Err: ErrWebhookNotFound}
	}
	delete(s.webhooks, c.ID)
	return Result{}
}

func (s *State) ackWebhooks(c AckWebhooks) Result {
	for _, a := range c.Acks {
		s.updateWebhook(a.ID, func(w *Webhook) {
			w.Cursor = max(w.Cursor, min(a.Seq, s.LastEventSeq()))
			w.FailingSince = 0
		})
	}
	return Result{}
}

func (s *State) webhookFailing(now int64, c WebhookFailing) Result {
	s.updateWebhook(c.ID, func(w *Webhook) {
		if w.FailingSince == 0 {
			w.FailingSince = now
		}
	})
	return Result{}
}

func (s *State) deactivateWebhook(c DeactivateWebhook) Result {
	s.updateWebhook(c.ID, func(w *Webhook) { w.Active, w.InactiveReason = false, c.Reason })
	return Result{}
}

// updateWebhook replaces an active webhook's record with a changed copy;
// a deleted or inactive webhook is left alone.
func (s *State) updateWebhook(id uuid.UUID, change func(*Webhook)) {
	cur, ok := s.webhooks[id]
	if !ok || !cur.Active {
		return
	}
	w := *cur
	change(&w)
	s.webhooks[id] = &w
}

// minWebhookCursor is the oldest event any active webhook still needs,
// or last when none does.
func (s *State) minWebhookCursor(last uint64) uint64 {
	m := last
	for _, w := range s.webhooks {
		if w.Active {
			m = min(m, w.Cursor)
		}
	}
	return m
}

// deactivateBehind deactivates active webhooks that still need events
// before firstKept, which compaction is about to drop.
func (s *State) deactivateBehind(firstKept uint64) {
	for _, id := range s.sortedWebhookIDs() {
		if w := s.webhooks[id]; w.Active && w.Cursor+1 < firstKept {
			s.deactivateWebhook(DeactivateWebhook{ID: id, Reason: "fell too far behind: undelivered events were dropped"})
		}
	}
}

func (s *State) sortedWebhookIDs() []uuid.UUID {
	ids := make([]uuid.UUID, 0, len(s.webhooks))
	for id := range s.webhooks {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// WebhooksOf returns user's webhooks, oldest first; every webhook when
// user is uuid.Nil.
func (s *State) WebhooksOf(user uuid.UUID) []Webhook {
	var out []Webhook
	for _, id := range s.sortedWebhookIDs() {
		if w := s.webhooks[id]; user == uuid.Nil || w.UserID == user {
			out = append(out, *w)
		}
	}
	slices.SortStableFunc(out, func(a, b Webhook) int { return cmp.Compare(a.CreatedAt, b.CreatedAt) })
	return out
}

// GetWebhook returns the webhook with id.
func (s *State) GetWebhook(id uuid.UUID) (Webhook, bool) {
	w, ok := s.webhooks[id]
	if !ok {
		return Webhook{}, false
	}
	return *w, true
}
