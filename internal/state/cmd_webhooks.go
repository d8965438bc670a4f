package state

import (
	"strings"
	"time"

	"github.com/google/uuid"
)

// The webhook commands, each with its codec, limits and apply rule.

// CreateWebhook registers a webhook for UserID. It receives events
// committed after it.
type CreateWebhook struct {
	ID, UserID uuid.UUID
	URL        string
	Secret     string
	Events     EventKind
	Pattern    string
}

func (CreateWebhook) kind() kind { return kindCreateWebhook }

func (c CreateWebhook) encode(e *encoder) {
	e.id(c.ID)
	e.id(c.UserID)
	e.str(c.URL)
	e.str(c.Secret)
	e.u8(byte(c.Events))
	e.str(c.Pattern)
}

func (CreateWebhook) decode(d *decoder) Command {
	return CreateWebhook{ID: d.id(), UserID: d.id(), URL: d.str(MaxWebhookURLLen),
		Secret: d.str(MaxWebhookSecret), Events: EventKind(d.u8()), Pattern: d.str(MaxLockNameLen)}
}

func (c CreateWebhook) validate() error {
	return firstErr(idErr(c.ID, c.UserID), validateWebhookFields(c))
}

func (c CreateWebhook) apply(s *State, now int64, skew time.Duration) Result {
	return s.createWebhook(now, c)
}

// DeleteWebhook removes one of UserID's webhooks; deliveries stop.
type DeleteWebhook struct {
	ID, UserID uuid.UUID
}

func (DeleteWebhook) kind() kind { return kindDeleteWebhook }

func (c DeleteWebhook) encode(e *encoder) {
	e.id(c.ID)
	e.id(c.UserID)
}

func (DeleteWebhook) decode(d *decoder) Command {
	return DeleteWebhook{ID: d.id(), UserID: d.id()}
}

func (c DeleteWebhook) validate() error {
	return idErr(c.ID, c.UserID)
}

func (c DeleteWebhook) apply(s *State, now int64, skew time.Duration) Result {
	return s.deleteWebhook(c)
}

// WebhookAck moves a webhook's cursor forward to Seq.
type WebhookAck struct {
	ID  uuid.UUID
	Seq uint64
}

// AckWebhooks records delivered (or skipped) events and ends each
// webhook's failure run.
type AckWebhooks struct {
	Acks []WebhookAck
}

func (AckWebhooks) kind() kind { return kindAckWebhooks }

func (c AckWebhooks) encode(e *encoder) {
	e.uvarint(uint64(len(c.Acks)))
	for _, a := range c.Acks {
		e.id(a.ID)
		e.uvarint(a.Seq)
	}
}

func (AckWebhooks) decode(d *decoder) Command {
	return AckWebhooks{Acks: decodeAcks(d)}
}

func (c AckWebhooks) validate() error {
	for _, a := range c.Acks {
		if err := idErr(a.ID); err != nil {
			return err
		}
	}
	return nil
}

func (c AckWebhooks) apply(s *State, now int64, skew time.Duration) Result {
	return s.ackWebhooks(c)
}

// WebhookFailing records that a webhook's deliveries started failing.
type WebhookFailing struct {
	ID uuid.UUID
}

func (WebhookFailing) kind() kind { return kindWebhookFailing }

func (c WebhookFailing) encode(e *encoder) {
	e.id(c.ID)
}

func (WebhookFailing) decode(d *decoder) Command {
	return WebhookFailing{ID: d.id()}
}

func (c WebhookFailing) validate() error {
	return idErr(c.ID)
}

func (c WebhookFailing) apply(s *State, now int64, skew time.Duration) Result {
	return s.webhookFailing(now, c)
}

// DeactivateWebhook stops deliveries to a webhook that kept failing.
type DeactivateWebhook struct {
	ID     uuid.UUID
	Reason string
}

func (DeactivateWebhook) kind() kind { return kindDeactivateWebhook }

func (c DeactivateWebhook) encode(e *encoder) {
	e.id(c.ID)
	e.str(c.Reason)
}

func (DeactivateWebhook) decode(d *decoder) Command {
	return DeactivateWebhook{ID: d.id(), Reason: d.str(maxReasonLen)}
}

func (c DeactivateWebhook) validate() error {
	return idErr(c.ID)
}

func (c DeactivateWebhook) apply(s *State, now int64, skew time.Duration) Result {
	return s.deactivateWebhook(c)
}

func decodeAcks(d *decoder) []WebhookAck {
	n := d.count(17)
	acks := make([]WebhookAck, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		acks = append(acks, WebhookAck{ID: d.id(), Seq: d.uvarint()})
	}
	return acks
}

func validateWebhookFields(c CreateWebhook) error {
	ok := strings.HasPrefix(c.URL, "https://") && len(c.URL) <= MaxWebhookURLLen &&
		len(c.Secret) <= MaxWebhookSecret && c.Events != 0 && c.Events&^AllEvents == 0 &&
		(c.Pattern == "" || ValidPattern(c.Pattern) == nil)
	return check(ok, errWebhook)
}
