package httpapi

import (
	"testing"
	"time"

	"github.com/octostore/octostore/internal/state"
)

// TestTouchDue: a use is recorded at most hourly, and often enough for a
// short sliding lifetime never to lapse between recordings.
func TestTouchDue(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	at := func(ago time.Duration) int64 { return now.Add(-ago).UnixNano() }
	for _, c := range []struct {
		tok  state.Token
		want bool
	}{
		{state.Token{}, true},
		{state.Token{LastUsed: at(59 * time.Minute)}, false},
		{state.Token{LastUsed: at(time.Hour)}, true},
		{state.Token{LastUsed: at(10 * time.Minute), Slide: 90 * 24 * time.Hour}, false},
		{state.Token{LastUsed: at(10 * time.Minute), Slide: 40 * time.Minute}, true},
		{state.Token{LastUsed: at(5 * time.Minute), Slide: 40 * time.Minute}, false},
	} {
		if got := touchDue(c.tok, now); got != c.want {
			t.Errorf("%+v: due %v", c.tok, got)
		}
	}
}
