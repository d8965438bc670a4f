package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// WebhookTargets decides which URLs webhooks may call (webhook.Dispatcher).
type WebhookTargets interface {
	CheckURL(ctx context.Context, url string) error
}

// ErrBadRequest is the seed's 400 for webhook registration: the message
// says what is wrong.
var ErrBadRequest = errors.New("bad request")

type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }
func (e badRequest) Unwrap() error { return ErrBadRequest }

type webhookResponse struct {
	ID             uuid.UUID  `json:"id"`
	UserID         uuid.UUID  `json:"user_id"`
	URL            string     `json:"url"`
	Secret         *string    `json:"secret"`
	Events         []string   `json:"events"`
	LockPattern    *string    `json:"lock_pattern"`
	CreatedAt      time.Time  `json:"created_at"`
	Active         bool       `json:"active"`
	FailingSince   *time.Time `json:"failing_since"`
	InactiveReason *string    `json:"inactive_reason"`
}

var redacted = "****"

func newWebhookResponse(w state.Webhook) webhookResponse {
	resp := webhookResponse{ID: w.ID, UserID: w.UserID, URL: w.URL, Events: eventNames(w.Events),
		CreatedAt: unixTime(w.CreatedAt), Active: w.Active}
	if w.Secret != "" {
		resp.Secret = &redacted
	}
	if w.Pattern != "" {
		resp.LockPattern = &w.Pattern
	}
	if w.FailingSince != 0 {
		t := unixTime(w.FailingSince)
		resp.FailingSince = &t
	}
	if !w.Active {
		resp.InactiveReason = &w.InactiveReason
	}
	return resp
}

func eventNames(k state.EventKind) []string {
	if k == state.AllEvents {
		return []string{"*"}
	}
	var names []string
	for _, e := range []state.EventKind{state.EventAcquired, state.EventReleased, state.EventExpired, state.EventRenewed} {
		if k&e != 0 {
			names = append(names, e.String())
		}
	}
	return names
}

func (a *API) handleCreateWebhook(w http.ResponseWriter, r *request) {
	cmd, err := a.webhookCommand(r)
	var ie inputError
	if errors.As(err, &ie) {
		err = badRequest{ie.msg} // the seed answers invalid registrations 400
	}
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	if res, ok := a.apply(w, r, cmd); ok {
		writeJSON(w, http.StatusCreated, newWebhookResponse(res.Webhook))
	}
}

func (a *API) webhookCommand(r *request) (state.CreateWebhook, error) {
	var body struct {
		URL         *text     `json:"url"`
		Secret      *text     `json:"secret"`
		Events      *[]string `json:"events"`
		LockPattern *text     `json:"lock_pattern"`
	}
	if err := decodeJSON(r, &body, true); err != nil {
		return state.CreateWebhook{}, err
	}
	cmd := state.CreateWebhook{ID: uuid.New(), UserID: r.user.ID, Events: state.AllEvents}
	if body.URL == nil {
		return cmd, invalid("url is required")
	}
	if err := a.targets.CheckURL(r.Context(), string(*body.URL)); err != nil {
		return cmd, invalid("%v", err)
	}
	cmd.URL = string(*body.URL)
	if body.Secret != nil && len(*body.Secret) > state.MaxWebhookSecret {
		return cmd, invalid("secret must be at most %d bytes", state.MaxWebhookSecret)
	}
	if body.Secret != nil {
		cmd.Secret = string(*body.Secret)
	}
	var err error
	if body.Events != nil {
		if cmd.Events, err = parseEvents(*body.Events); err != nil {
			return cmd, err
		}
	}
	if body.LockPattern != nil {
		if err := state.ValidPattern(string(*body.LockPattern)); err != nil {
			return cmd, invalid("%v", err)
		}
		cmd.Pattern = string(*body.LockPattern)
	}
	return cmd, nil
}

func parseEvents(names []string) (state.EventKind, error) {
	if len(names) == 0 {
		return 0, invalid(`events must name at least one of acquired, released, expired, renewed or "*"`)
	}
	if slices.Contains(names, "*") {
		return state.AllEvents, nil
	}
	var kinds state.EventKind
	for _, n := range names {
		k, ok := state.ParseEventKind(n)
		if !ok {
			return 0, invalid(`unknown event %q: use acquired, released, expired, renewed or "*"`, n)
		}
		kinds |= k
	}
	return kinds, nil
}

func (a *API) handleListWebhooks(w http.ResponseWriter, r *request) {
	out := []webhookResponse{}
	err := a.store.Read(r.Context(), false, func(s state.View, _ int64) {
		for _, hook := range s.WebhooksOf(r.user.ID) {
			out = append(out, newWebhookResponse(hook))
		}
	})
	if err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) handleDeleteWebhook(w http.ResponseWriter, r *request) {
	if _, ok := a.apply(w, r, state.DeleteWebhook{ID: r.id, UserID: r.user.ID}); ok {
		w.WriteHeader(http.StatusNoContent)
	}
}
