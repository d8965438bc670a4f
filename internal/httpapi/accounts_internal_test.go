package httpapi

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// TestAccounts_Due: a GitHub account is re-checked once its last answer
// is an hour old, not before; never a user that is not a GitHub account;
// and after a failure, not again before the retry time, unless a newer
// answer came in the meantime.
func TestAccounts_Due(t *testing.T) {
	c := newAccounts(AccountChecks{})
	now := time.Unix(1_700_000_000, 0)
	at := func(ago time.Duration) int64 { return now.Add(-ago).UnixNano() }
	u := state.User{ID: uuid.New(), GitHubID: 7}
	for _, tc := range []struct {
		checked time.Duration
		github  int64
		want    bool
	}{
		{59 * time.Minute, 7, false},
		{time.Hour, 7, true},
		{48 * time.Hour, 7, true},
		{48 * time.Hour, 0, false}, // a static user
	} {
		u.OrgsCheckedAt, u.GitHubID = at(tc.checked), tc.github
		if got := c.due(u, now); got != tc.want {
			t.Errorf("answer %v old, GitHub ID %d: due %v", tc.checked, tc.github, got)
		}
	}
	u.GitHubID, u.OrgsCheckedAt = 7, at(2*time.Hour)
	c.hold(u, now, now.Add(5*time.Minute))
	if c.due(u, now.Add(4*time.Minute)) || !c.due(u, now.Add(5*time.Minute)) {
		t.Error("a failed re-check is retried before its retry time, or not at it")
	}
	newer := u
	newer.OrgsCheckedAt = at(90 * time.Minute) // a sign-in answered meanwhile
	if !c.due(newer, now) {
		t.Error("a note about an older answer holds back a newer one")
	}
	c.forget(u.ID)
	if !c.due(u, now) {
		t.Error("a forgotten note still holds")
	}
}

// TestAccounts_WarnsHourly: a user whose re-checks keep failing is
// warned about at most once an hour, however often they are retried.
func TestAccounts_WarnsHourly(t *testing.T) {
	c := newAccounts(AccountChecks{})
	now := time.Unix(1_700_000_000, 0)
	u := state.User{ID: uuid.New(), GitHubID: 7}
	var warned []time.Duration
	for d := time.Duration(0); d <= 3*time.Hour; d += 5 * time.Minute {
		if c.hold(u, now.Add(d), now.Add(d+5*time.Minute)) {
			warned = append(warned, d)
		}
	}
	if len(warned) != 4 || warned[1] != time.Hour || warned[3] != 3*time.Hour {
		t.Fatalf("warned at %v", warned)
	}
}
