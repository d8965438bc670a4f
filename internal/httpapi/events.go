package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
	"github.com/octostore/octostore/internal/webhook"
)

// Event stream limits: streams are long-lived connections, so they are
// counted; a client that cannot keep up is cut off rather than buffered.
const (
	maxStreams        = 1000
	maxStreamsPerUser = 16
	maxStreamLag      = 20_000 // events behind the newest before a stream is cut off
	heartbeatEvery    = 15 * time.Second
	streamWriteWait   = 5 * time.Second
)

// ErrTooManyStreams is a 429: too many event streams are open.
var ErrTooManyStreams = errors.New("too many event streams")

// streams counts open event streams, in total and per user.
type streams struct {
	mu     sync.Mutex
	total  int
	byUser map[uuid.UUID]int
}

func (s *streams) open(user uuid.UUID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byUser == nil {
		s.byUser = map[uuid.UUID]int{}
	}
	if s.total >= maxStreams || s.byUser[user] >= maxStreamsPerUser {
		return false
	}
	s.total++
	s.byUser[user]++
	return true
}

func (s *streams) close(user uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.byUser[user]--; s.byUser[user] == 0 {
		delete(s.byUser, user)
	}
}

// handleEvents streams lock events under a prefix as Server-Sent Events,
// each with its sequence number as the event ID. A reconnecting client
// (Last-Event-ID, or ?after=) gets every event since, without gaps or
// duplicates, while the outbox holds them; otherwise a "reset" event says
// to re-read the state. Any node serves it from its own copy of the log.
func (a *API) handleEvents(w http.ResponseWriter, r *request) {
	prefix := r.URL.Query().Get("prefix")
	cursor, fromNow, err := streamStart(r.Request)
	if err = firstError(err, maxLen("prefix", prefix)); err != nil {
		a.writeError(w, r.Request, err)
		return
	}
	if !a.streams.open(r.user.ID) {
		a.writeError(w, r.Request, ErrTooManyStreams)
		return
	}
	defer a.streams.close(r.user.ID)
	r.adm.leave() // streams have their own limits; they must not hold a short slot
	if fromNow {
		a.store.Read(r.Context(), true, func(s state.View, _ int64) { cursor = s.LastEventSeq() })
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-OctoStore-Index", strconv.FormatUint(cursor, 10))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	stream := &eventStream{a: a, w: w, rc: http.NewResponseController(w), prefix: prefix, cursor: cursor, tok: r.tok}
	// Headers go out now, not with the first event: a client must know
	// its stream is open before anything happens on it.
	reason := "flush failed"
	if stream.rc.Flush() == nil {
		reason = stream.run(r)
	}
	a.log.Debug("event stream closed", "request_id", w.Header().Get("X-Request-Id"), "reason", reason)
}

// streamStart reads where a stream resumes: Last-Event-ID wins over
// ?after=; neither means "from now on".
func streamStart(r *http.Request) (cursor uint64, fromNow bool, err error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, true, nil
	}
	if cursor, err = strconv.ParseUint(v, 10, 64); err != nil {
		return 0, false, invalid("after (or Last-Event-ID) must be an event ID, a non-negative integer")
	}
	return cursor, false, nil
}

type eventStream struct {
	a      *API
	w      http.ResponseWriter
	rc     *http.ResponseController
	prefix string
	tok    state.Token // a scoped token sees only events within its prefixes
	// owners are the namespaces the user may read (isolated tenancy),
	// set by each read (next) before its events are sent: organizations
	// and bindings change while a stream lasts.
	owners tenancy.Owners
	cursor uint64
}

// run writes events until the client leaves or falls too far behind, and
// says why it ended.
func (s *eventStream) run(r *request) string {
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	for {
		changed := s.a.store.Changed()
		events, span := s.next(r)
		if err := s.send(events, span); err != nil {
			return err.Error()
		}
		if len(events) > 0 || span.gap {
			continue
		}
		select {
		case <-r.Context().Done():
			return "client left"
		case <-s.a.draining:
			return "server shutting down"
		case <-changed:
		case <-heartbeat.C:
			if err := s.write(": heartbeat\n\n"); err != nil {
				return err.Error()
			}
		}
	}
}

// outboxSpan is what the outbox held when events were read.
type outboxSpan struct {
	gap         bool // events right after the cursor are gone
	first, last uint64
}

func (s *eventStream) next(r *request) (events []state.Event, span outboxSpan) {
	s.a.store.Read(r.Context(), true, func(st state.View, now int64) {
		s.owners = s.a.tenancy.OwnersOf(st, r.user.ID, now)
		var evs []state.Event
		evs, span.gap = st.EventsAfter(s.cursor, 512)
		events = append(events, evs...) // copied: the outbox moves on
		span.first, span.last = st.FirstEventSeq(), st.LastEventSeq()
	})
	return events, span
}

// send writes a batch of events (or a reset), then flushes.
func (s *eventStream) send(events []state.Event, span outboxSpan) error {
	if span.gap {
		s.cursor = span.first - 1
		return s.write(fmt.Sprintf("event: reset\ndata: {\"reason\":\"events before %d are no longer kept: re-read the state\",\"next\":%d}\n\n", span.first, span.first))
	}
	if behind := span.last - s.cursor; len(events) > 0 && behind > maxStreamLag {
		s.write(fmt.Sprintf("event: error\ndata: {\"reason\":\"too slow: %d events behind\"}\n\n", behind))
		return fmt.Errorf("client too slow: %d events behind", behind)
	}
	var b strings.Builder
	for _, e := range events {
		s.cursor = e.Seq
		name, election := state.ElectionName(e.Lock)
		if !election {
			name = e.Lock
		}
		if !strings.HasPrefix(name, s.prefix) || !s.tok.Allows(name, false) || !s.owners.Reads(name) {
			continue
		}
		// Streams carry what webhooks deliver: never a lease or session ID.
		if election {
			data, _ := json.Marshal(electionPayload{Event: e.Kind.String(), Election: name, HolderID: e.HolderID,
				Term: e.Token, Timestamp: unixTime(e.Time)})
			fmt.Fprintf(&b, "id: %d\nevent: election\ndata: %s\n\n", e.Seq, data)
			continue
		}
		data, _ := json.Marshal(webhook.NewPayload(e))
		fmt.Fprintf(&b, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, data)
	}
	if b.Len() == 0 {
		return nil
	}
	return s.write(b.String())
}

// write sends text with a deadline: a client that stops reading is cut
// off instead of pinning memory.
func (s *eventStream) write(text string) error {
	s.rc.SetWriteDeadline(time.Now().Add(streamWriteWait))
	if _, err := s.w.Write([]byte(text)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return s.rc.Flush()
}
