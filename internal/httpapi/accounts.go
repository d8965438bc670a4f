package httpapi

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
)

// GitHub accounts are re-checked while they are used. A signed-in user's
// organizations own namespaces, and GitHub is the authority on them: a
// request whose user's last answer from GitHub (User.OrgsCheckedAt) is
// older than AccountChecks.Every makes the leader ask GitHub again, in the
// background, with the grant kept in the state, and record the answer
// (RecordGitHubAccount: a rename too). The request never waits for it.
const (
	// recheckEvery is how old GitHub's last answer may be: a member
	// removed from an organization loses it within about this long of
	// its next request.
	recheckEvery = time.Hour
	// recheckTimeout bounds one re-check: GitHub's answers (each call has
	// its own 10 s timeout) and the proposal.
	recheckTimeout = 30 * time.Second
)

// AccountChecks tunes the re-checks of GitHub accounts; the zero value
// means the defaults.
type AccountChecks struct {
	Every time.Duration // how old GitHub's last answer may get; default 1 h
	// Now is the clock deciding when a re-check is due; default
	// time.Now. Tests move it forward instead of waiting an hour.
	Now func() time.Time
}

// accounts is the leader's memory of re-checks: which run, and which got
// no fresh answer (a GitHub failure, no grant) and when to try again.
type accounts struct {
	every   time.Duration
	now     func() time.Time
	running inFlight[uuid.UUID]
	mu      sync.Mutex
	notes   map[uuid.UUID]accountNote
}

// accountNote is about the answer of checkedAt: a newer one voids it.
type accountNote struct {
	checkedAt int64     // the user's OrgsCheckedAt when the re-check failed
	retryAt   time.Time // no new re-check of that answer before
	warnedAt  time.Time // the last warning logged for the user
}

func newAccounts(c AccountChecks) *accounts {
	ac := &accounts{every: c.Every, now: c.Now, notes: map[uuid.UUID]accountNote{}}
	if ac.every <= 0 {
		ac.every = recheckEvery
	}
	if ac.now == nil {
		ac.now = time.Now
	}
	return ac
}

// due says whether u's organizations should be asked of GitHub again at
// now: its last answer is old, and no failure since says to wait.
func (c *accounts) due(u state.User, now time.Time) bool {
	if u.GitHubID == 0 || now.Sub(time.Unix(0, u.OrgsCheckedAt)) < c.every {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.notes[u.ID]
	return !ok || n.checkedAt != u.OrgsCheckedAt || !now.Before(n.retryAt)
}

// hold notes that u's answer stays as it is until retryAt, and says
// whether to log a warning about it: at most one per user per Every.
func (c *accounts) hold(u state.User, now, retryAt time.Time) (warn bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.notes[u.ID]
	n.checkedAt, n.retryAt = u.OrgsCheckedAt, retryAt
	if warn = now.Sub(n.warnedAt) >= c.every; warn {
		n.warnedAt = now
	}
	c.notes[u.ID] = n
	return warn
}

func (c *accounts) forget(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.notes, id)
}

// noteAccount re-checks u with GitHub in the background when that is due
// and none runs. Only the ready leader does: it has the latest answer,
// and followers would ask GitHub for the same users again.
func (a *API) noteAccount(u state.User) {
	if a.signIn == nil || (a.cluster != nil && !a.cluster.IsReady()) {
		return
	}
	now := a.accounts.now()
	if !a.accounts.due(u, now) || !a.accounts.running.start(u.ID) {
		return
	}
	go func() {
		defer a.accounts.running.finish(u.ID)
		ctx, cancel := context.WithTimeout(context.Background(), recheckTimeout)
		defer cancel()
		a.recheck(ctx, u.ID, now)
	}()
}

// recheck asks GitHub about user id with its stored grant and records
// the answer. It reads the user afresh: the request's copy may predate a
// re-check that just finished.
func (a *API) recheck(ctx context.Context, id uuid.UUID, now time.Time) {
	u, grant, err := a.accountRecord(ctx, id)
	if err != nil || !a.accounts.due(u, now) {
		return // not the leader any more, or already done: the next use tries again
	}
	if grant == "" {
		a.noGrant(ctx, u, now)
		return
	}
	got, err := a.signIn.Account(ctx, auth.Grant(grant))
	switch {
	case err != nil && !errors.Is(err, auth.ErrGrantRevoked):
		a.githubFailed(u, now, err)
	case !a.unchanged(ctx, u, grant):
		// A sign-in recorded a newer answer (and maybe a new grant) while
		// GitHub was asked: this one must not undo it.
		a.log.Debug("GitHub account re-check overtaken by a sign-in: not recorded", "login", u.Login, "user_id", u.ID)
	case err != nil:
		a.dropGrant(ctx, u, "GitHub refused the user's grant (revoked, or expired): its organizations are dropped; "+
			"it keeps its own namespace, and signing in again restores them", err)
	case got.GitHubID != u.GitHubID:
		a.dropGrant(ctx, u, "GitHub answered the user's grant with another account: its grant and organizations are dropped", nil)
	default:
		a.recordRecheck(ctx, u, got)
	}
}

// unchanged says whether u's record and grant are still those the
// re-check started from. What it records is decided on that basis; the
// window between this read and the proposal is the only one left.
func (a *API) unchanged(ctx context.Context, u state.User, grant string) bool {
	now, nowGrant, err := a.accountRecord(ctx, u.ID)
	return err == nil && now.OrgsCheckedAt == u.OrgsCheckedAt && nowGrant == grant
}

// accountRecord reads user id and its stored grant, from the leader.
func (a *API) accountRecord(ctx context.Context, id uuid.UUID) (u state.User, grant string, err error) {
	err = a.store.Read(ctx, false, func(s state.View, _ int64) { u, _ = s.User(id); grant = s.GitHubGrant(id) })
	return u, grant, err
}

// recordRecheck records GitHub's fresh answer. The grant is not sent
// again: "" keeps the stored one, so the log holds no more copies of it.
func (a *API) recordRecheck(ctx context.Context, u state.User, got auth.Identity) {
	cmd := recordAccount(got)
	cmd.Grant = ""
	if _, err := state.Outcome(a.store.Apply(ctx, cmd)); err != nil {
		a.log.Warn("GitHub account re-checked but not recorded; the next use tries again", "login", u.Login, "user_id", u.ID, "err", err)
		return
	}
	a.accounts.forget(u.ID)
	if got.Login != u.Login || !slices.Equal(got.Orgs, u.Orgs) {
		a.log.Info("GitHub account changed", "login", got.Login, "previous_login", u.Login, "user_id", u.ID,
			"orgs", orgLogins(got.Orgs), "previous_orgs", orgLogins(u.Orgs))
	}
	a.applyAllowLists(ctx, u.ID, got)
}

// applyAllowLists revokes every token of a user the allow-lists no longer
// admit (removed from every allowed organization, or, without a grant,
// no longer known to be in one): the sign-in's decision is re-made at
// each re-check, as identity configuration stays authoritative.
func (a *API) applyAllowLists(ctx context.Context, id uuid.UUID, got auth.Identity) {
	why := a.signIn.Admits(got)
	if why == nil {
		return
	}
	res, err := state.Outcome(a.store.Apply(ctx, state.RetireUsers{IDs: []uuid.UUID{id}}))
	if err != nil {
		a.log.Warn("GitHub account no longer allowed, but its tokens were not revoked; the next use tries again", "login", got.Login, "user_id", id, "err", err)
		return
	}
	a.log.Warn("GitHub account no longer allowed on this server: its tokens are revoked", "login", got.Login, "user_id", id,
		"tokens", res.Count, "reason", why)
}

// dropGrant records that u has no usable grant: no organizations, and
// no grant to ask GitHub with until the user signs in again.
func (a *API) dropGrant(ctx context.Context, u state.User, why string, cause error) {
	cmd := state.RecordGitHubAccount{UserID: u.ID, Login: u.Login, GitHubID: u.GitHubID, ClearGrant: true}
	if _, err := state.Outcome(a.store.Apply(ctx, cmd)); err != nil {
		a.log.Warn("GitHub account re-check not recorded; the next use tries again", "login", u.Login, "user_id", u.ID, "err", err)
		return
	}
	a.accounts.forget(u.ID)
	attrs := []any{"login", u.Login, "user_id", u.ID, "previous_orgs", orgLogins(u.Orgs)}
	if cause != nil {
		attrs = append(attrs, "err", cause)
	}
	a.log.Warn(why, attrs...)
	a.applyAllowLists(ctx, u.ID, auth.Identity{GitHubID: u.GitHubID, Login: u.Login})
}

// noGrant: without a grant there is nothing to ask GitHub with. A user
// that still has organizations loses them (fail closed); otherwise the
// answer stands until the user signs in again (a newer OrgsCheckedAt).
func (a *API) noGrant(ctx context.Context, u state.User, now time.Time) {
	if len(u.Orgs) > 0 {
		a.dropGrant(ctx, u, "no GitHub grant is stored for the user: its organizations are dropped", nil)
		return
	}
	a.accounts.hold(u, now, time.Unix(1<<62, 0))
}

// githubFailed keeps u's last answer (GitHub may be down or slow) and
// tries again a little later (Every/12: 5 minutes); the warning says
// until when that answer counts, at most once per user per Every.
func (a *API) githubFailed(u state.User, now time.Time, err error) {
	if !a.accounts.hold(u, now, now.Add(a.accounts.every/12)) {
		return
	}
	last := time.Unix(0, u.OrgsCheckedAt).UTC()
	a.log.Warn("GitHub account not re-checked: its last answer is kept, and becomes stale at stale_at",
		"login", u.Login, "user_id", u.ID, "last_answer", last, "stale_at", last.Add(tenancy.MaxOrgStaleness),
		"orgs", orgLogins(u.Orgs), "err", err)
}

func orgLogins(orgs []state.Org) []string {
	out := make([]string, len(orgs))
	for i, o := range orgs {
		out[i] = o.Login
	}
	return out
}
