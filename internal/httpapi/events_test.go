package httpapi_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/apitest"
	"github.com/octostore/octostore/internal/httpapi"
	"github.com/octostore/octostore/internal/poll"
	"github.com/octostore/octostore/internal/state"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, kind, data string
}

// openStream opens GET /events through the contract-checking client and
// returns its events as they come; the channel closes when the stream does.
func openStream(t *testing.T, ctx context.Context, c *apitest.Client, query, lastID string) <-chan sseEvent {
	t.Helper()
	h := http.Header{}
	if lastID != "" {
		h.Set("Last-Event-ID", lastID)
	}
	resp := c.Stream(ctx, "/events"+query, alice, h)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	out := make(chan sseEvent, 1000)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		readEvents(resp.Body, out)
	}()
	return out
}

// readEvents parses Server-Sent Events until r ends.
func readEvents(r io.Reader, out chan<- sseEvent) {
	sc := bufio.NewScanner(r)
	var e sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if e.kind != "" {
				out <- e
			}
			e = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			e.data = line[6:]
		}
	}
}

func next(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return sseEvent{}
	}
}

// TestEvents_ResumeWithoutGapsOrDuplicates: a client that reconnects with
// the last ID it saw gets exactly the events it missed, in order.
func TestEvents_ResumeWithoutGapsOrDuplicates(t *testing.T) {
	_, c := apitest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	stream := openStream(t, ctx, c, "?prefix=app/", "")
	a := mustAcquire(t, c, "app/a", alice, 60)
	mustAcquire(t, c, "other/x", alice, 60) // filtered out by the prefix
	first, second := next(t, stream), func() sseEvent {
		wantStatus(t, c.Do("POST", "/locks/app/a/renew", alice, body{"lease_id": a.LeaseID, "ttl_seconds": 60}), http.StatusOK)
		return next(t, stream)
	}()
	if first.kind != "acquired" || second.kind != "renewed" || !strings.Contains(first.data, `"lock":"app/a"`) ||
		strings.Contains(first.data, a.LeaseID) || strings.Contains(first.data, "session") {
		t.Fatalf("events %+v %+v", first, second)
	}
	cancel() // the client goes away
	wantStatus(t, c.Do("POST", "/locks/app/a/release", alice, body{"lease_id": a.LeaseID}), http.StatusOK)
	b := mustAcquire(t, c, "app/b", alice, 60)
	wantStatus(t, c.Do("POST", "/locks/app/b/release", alice, body{"lease_id": b.LeaseID}), http.StatusOK)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	resumed := openStream(t, ctx, c, "?prefix=app/", second.id)
	want := []string{"released app/a", "acquired app/b", "released app/b"}
	last, _ := strconv.Atoi(second.id)
	for _, w := range want {
		e := next(t, resumed)
		id, _ := strconv.Atoi(e.id)
		if e.kind+" "+lockOf(e.data) != w || id <= last {
			t.Fatalf("got %s %s (id %s after %d), want %s", e.kind, lockOf(e.data), e.id, last, w)
		}
		last = id
	}
	again := openStream(t, ctx, c, "?prefix=app/&after="+second.id, "")
	if e := next(t, again); e.kind != "released" {
		t.Fatalf("after= resume: %+v", e)
	}
}

// TestEvents_StartIndex: a stream opened "from now on" says where now is,
// so a client that loses it before any event resumes without a gap.
func TestEvents_StartIndex(t *testing.T) {
	_, c := apitest.Start(t)
	mustAcquire(t, c, "before", alice, 60)
	ctx, cancel := context.WithCancel(context.Background())
	resp := c.Stream(ctx, "/events", alice)
	start := resp.Header.Get("X-OctoStore-Index")
	if n, err := strconv.ParseUint(start, 10, 64); err != nil || n == 0 {
		t.Fatalf("X-OctoStore-Index %q: want the ID of the event before the stream", start)
	}
	cancel() // lost before its first event
	resp.Body.Close()
	mustAcquire(t, c, "during", alice, 60)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	resumed := openStream(t, ctx, c, "?after="+start, "")
	if e := next(t, resumed); e.kind != "acquired" || lockOf(e.data) != "during" {
		t.Fatalf("first event after resuming from the start index: %+v", e)
	}
}

func lockOf(data string) string {
	_, rest, _ := strings.Cut(data, `"lock":"`)
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

// TestBlockingStatus: a read with the index of the previous answer waits
// until the lock changes, or for its wait.
func TestBlockingStatus(t *testing.T) {
	_, c := apitest.Start(t)
	r := c.Do("GET", "/locks/watched", alice, nil)
	index := r.Header.Get("X-OctoStore-Index")
	if index == "" {
		t.Fatal("no X-OctoStore-Index")
	}
	go func() {
		time.Sleep(300 * time.Millisecond) // the change the read below waits for
		mustAcquire(t, c, "unrelated", bob, 60)
		mustAcquire(t, c, "watched", bob, 60)
	}()
	start := time.Now()
	var l lockResp
	r = c.Do("GET", "/locks/watched?wait=10s&index="+index, alice, nil)
	r.JSON(t, &l)
	if took := time.Since(start); l.Status != "held" || took < 250*time.Millisecond || took > 5*time.Second {
		t.Fatalf("after %v: %+v", took, l)
	}
	start = time.Now()
	c.Do("GET", "/locks/watched?wait=1&index="+r.Header.Get("X-OctoStore-Index"), alice, nil)
	if took := time.Since(start); took < time.Second {
		t.Fatalf("returned after %v without a change", took)
	}
	wantError(t, c.Raw("GET", "/locks/watched?wait=forever", alice, nil), http.StatusUnprocessableEntity, "validation_error")
}

// compactedOutbox serves the API over a state whose outbox has been
// compacted (more events happened than are kept), returning a client for
// the static token "tok" and the oldest kept event.
func compactedOutbox(t *testing.T) (*apitest.Client, uint64) {
	st := state.New()
	user := uuid.New()
	now := time.Now().UnixNano()
	st.Apply(state.Batch{Now: now, Commands: []state.Command{state.SyncStaticUsers{
		Users: []state.StaticUser{{ID: user, Login: "u", Hashes: []state.TokenHash{state.HashToken("tok")}}}}}})
	for st.LastEventSeq() < state.OutboxRetain+5000 {
		lease := uuid.New()
		st.Apply(state.Batch{Now: now, Commands: []state.Command{
			state.Acquire{Name: "x", LeaseID: lease, HolderID: user, TTL: time.Minute},
			state.Release{Name: "x", LeaseID: lease, HolderID: user}}})
	}
	srv := httptest.NewServer(httpapi.NewMemAPI(st))
	t.Cleanup(srv.Close)
	return apitest.New(t, srv.URL), st.FirstEventSeq()
}

// firstEvent reads the first event of a stream resuming after the ID
// given.
func firstEvent(t *testing.T, c *apitest.Client, after uint64) sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := c.Stream(ctx, "/events?after="+strconv.FormatUint(after, 10), "tok")
	defer resp.Body.Close()
	events := make(chan sseEvent, 1)
	go readEvents(resp.Body, events)
	return next(t, events)
}

// TestEvents_ResetWhenCompacted: resuming before the oldest kept event
// says so, with where the stream goes on from, instead of skipping.
func TestEvents_ResetWhenCompacted(t *testing.T) {
	c, first := compactedOutbox(t)
	if e := firstEvent(t, c, 1); e.kind != "reset" || !strings.Contains(e.data, `"next":`) {
		t.Fatalf("first event %+v (oldest kept %d)", e, first)
	}
}

// TestEvents_SlowClientCutOff: a stream too far behind is told why and
// closed, while a stream near the head carries on.
func TestEvents_SlowClientCutOff(t *testing.T) {
	c, first := compactedOutbox(t)
	if e := firstEvent(t, c, first); e.kind != "error" || !strings.Contains(e.data, "too slow") {
		t.Fatalf("far-behind stream: %+v", e)
	}
	if e := firstEvent(t, c, first+state.OutboxRetain-10); e.id == "" || e.kind == "error" {
		t.Fatalf("near-head stream: %+v", e)
	}
}

// TestEvents_StreamLimit: one user's streams are bounded; closing one
// makes room for another.
func TestEvents_StreamLimit(t *testing.T) {
	_, c := apitest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var open []*http.Response
	for range 16 {
		open = append(open, c.Stream(ctx, "/events", alice))
	}
	if r := c.Stream(ctx, "/events", alice); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("17th stream: %d", r.StatusCode)
	}
	if r := c.Stream(ctx, "/events", bob); r.StatusCode != http.StatusOK {
		t.Fatalf("another user's stream: %d", r.StatusCode)
	}
	open[0].Body.Close()
	// The server notices the close asynchronously.
	poll.Until(t, 5*time.Second, "room for a stream after one closed", func() bool {
		return c.Stream(ctx, "/events", alice).StatusCode == http.StatusOK
	})
}

// TestEvents_ReacquireWithinLeaseEmitsNothing: a re-acquire that does not
// move the expiry changes nothing a watcher sees: no renewed event on the
// stream, and the lock's index does not move.
func TestEvents_ReacquireWithinLeaseEmitsNothing(t *testing.T) {
	_, c := apitest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream := openStream(t, ctx, c, "?prefix=quiet", "")
	l := mustAcquire(t, c, "quiet", alice, 600)
	before := c.Do("GET", "/locks/quiet", alice, nil).Header.Get("X-OctoStore-Index")
	r, again := acquire(t, c, "quiet", alice, body{"ttl_seconds": 10})
	wantStatus(t, r, http.StatusOK)
	if again.Status != "held" || !again.ExpiresAt.Equal(l.ExpiresAt) {
		t.Fatalf("re-acquire within the lease: %+v, first %+v", again, l)
	}
	if after := c.Do("GET", "/locks/quiet", alice, nil).Header.Get("X-OctoStore-Index"); after != before {
		t.Fatalf("index moved from %s to %s on a re-acquire that changed nothing", before, after)
	}
	wantStatus(t, c.Do("POST", "/locks/quiet/release", alice, body{"lease_id": l.LeaseID}), http.StatusOK)
	for _, want := range []string{"acquired", "released"} {
		if e := next(t, stream); e.kind != want {
			t.Fatalf("event %s %s, want %s", e.kind, e.data, want)
		}
	}
}
