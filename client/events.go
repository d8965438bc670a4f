package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// EventsOptions select an event stream.
type EventsOptions struct {
	Prefix string // lock (and election) names starting with it; empty: every one
	// Resume makes the stream start after the event with ID After (as a
	// reconnect with Last-Event-ID); otherwise it starts from now on.
	Resume bool
	After  uint64
}

// Event is one event of the stream: a lock acquired, renewed, released or
// expired; a leadership change ("election"); or "reset" (events after the
// requested ID are no longer kept: re-read the state, Reason says why).
type Event struct {
	ID           uint64    `json:"-"`    // the event's sequence number, for resuming
	Type         string    `json:"-"`    // acquired, renewed, released, expired, election or reset
	Lock         string    `json:"lock"` // the lock's name
	HolderID     string    `json:"holder_id"`
	FencingToken uint64    `json:"fencing_token"`
	Timestamp    time.Time `json:"timestamp"`
	Reason       string    `json:"reason"` // on reset
	// On election events: the election, what happened to its leadership
	// (acquired: a new leader; renewed: a lease extended or a value
	// proclaimed; released: a resignation; expired: a lease or session
	// that ended) and the leader's term.
	Election string `json:"election"`
	Change   string `json:"event"`
	Term     uint64 `json:"term"`
}

// ErrStreamEnded is returned by EventStream.Next when the server ended the
// stream with an error event (the client fell too far behind); resume
// from EventStream.LastID.
var ErrStreamEnded = errors.New("event stream ended by the server")

// EventStream is an open Server-Sent Events stream of lock events.
type EventStream struct {
	body io.ReadCloser
	r    *bufio.Reader
	last uint64
}

// Events opens the event stream (GET /events). It lasts until ctx ends or
// Close; Next reads it. Opening is retried like a read; a broken stream is
// not reopened: open a new one with Resume and After set to LastID.
func (c *Client) Events(ctx context.Context, o EventsOptions) (*EventStream, error) {
	q := url.Values{}
	if o.Prefix != "" {
		q.Set("prefix", o.Prefix)
	}
	if o.Resume {
		q.Set("after", strconv.FormatUint(o.After, 10))
	}
	k := &call{method: http.MethodGet, path: "/events", query: q, kind: read, stream: true}
	if err := c.do(ctx, k); err != nil {
		return nil, err
	}
	last := o.After
	if !o.Resume {
		// Where "now" was: resuming from here misses nothing, even when the
		// stream breaks before its first event.
		last, _ = strconv.ParseUint(k.resp.Header.Get("X-OctoStore-Index"), 10, 64)
	}
	return &EventStream{body: k.resp.Body, r: bufio.NewReader(k.resp.Body), last: last}, nil
}

// Watch calls fn with every event of the stream o selects, in order and
// once each: when the stream breaks (network, server restart, the client
// fell too far behind) it reopens it, with backoff, after the last event
// fn saw. While the server still keeps those events nothing is missed;
// otherwise (or when the client fell too far behind to catch up) fn gets a
// "reset" event, the stream goes on from now, and fn should re-read the
// state. Watch
// returns fn's error, ctx's when it ends, or an error no retry can fix
// (unauthorized, forbidden, invalid).
func (c *Client) Watch(ctx context.Context, o EventsOptions, fn func(Event) error) error {
	for attempt := 1; ; attempt++ {
		s, err := c.Events(ctx, o)
		if err == nil {
			attempt = 1
			err = s.each(fn)
			s.Close()
			o.Resume, o.After = true, s.LastID()
		}
		var fe callbackError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &fe):
			return fe.err
		case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrForbidden), errors.Is(err, ErrInvalid):
			return err
		case errors.Is(err, ErrStreamEnded):
			// Too far behind: resuming would be cut off again. Start from
			// now and tell fn what it missed, as the server's reset does.
			o.Resume = false
			if err := fn(Event{Type: "reset", Reason: err.Error()}); err != nil {
				return err
			}
		}
		if !sleep(ctx, c.backoff(attempt, err)) {
			return ctx.Err()
		}
	}
}

// callbackError marks an error returned by Watch's fn, which ends Watch.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// each hands events to fn until the stream or fn fails.
func (s *EventStream) each(fn func(Event) error) error {
	for {
		e, err := s.Next()
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return callbackError{err}
		}
	}
}

// LastID is the ID of the last event read, to resume from.
func (s *EventStream) LastID() uint64 { return s.last }

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }

// Next returns the next event, skipping heartbeats. At the end of the
// stream it returns io.EOF (or the context's error).
func (s *EventStream) Next() (Event, error) {
	for {
		fields, err := s.readFrame()
		if err != nil {
			return Event{}, err
		}
		if fields["data"] == "" {
			continue // a heartbeat comment
		}
		return s.decode(fields)
	}
}

// readFrame reads the lines of one event up to its blank line.
func (s *EventStream) readFrame() (map[string]string, error) {
	fields := map[string]string{}
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return fields, nil
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		fields[k] = strings.TrimPrefix(v, " ")
	}
}

func (s *EventStream) decode(fields map[string]string) (Event, error) {
	e := Event{Type: fields["event"]}
	if err := json.Unmarshal([]byte(fields["data"]), &e); err != nil {
		return Event{}, fmt.Errorf("event %q: %w", fields["data"], err)
	}
	if e.Type == "error" {
		return Event{}, fmt.Errorf("%w: %s", ErrStreamEnded, e.Reason)
	}
	if id, err := strconv.ParseUint(fields["id"], 10, 64); err == nil {
		e.ID, s.last = id, id
	}
	return e, nil
}
