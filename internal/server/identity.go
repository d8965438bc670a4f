package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
	"github.com/octostore/octostore/internal/tenancy"
)

// retireUnlisted takes every token (rotated and runtime ones included) of
// the static users that hold one but are no longer configured, and of the
// first-start admin: with an identity source configured, administrators
// are the --admin-users. Static users are recognised by their ID, which is
// derived from the login, so users from GitHub sign-in are never touched.
// SyncStaticUsers alone only drops static tokens: a rotation's token would
// outlive the user's removal.
func (s *Server) retireUnlisted(ctx context.Context, users []state.StaticUser) error {
	var retire []uuid.UUID
	var logins []string
	admin := false
	err := s.node.Read(ctx, false, func(v state.View, _ int64) {
		for _, u := range v.Users() {
			if !unlisted(u, users) || len(v.Tokens(u.ID)) == 0 {
				continue
			}
			retire = append(retire, u.ID)
			if u.ID == auth.AdminID() {
				admin = true
			} else {
				logins = append(logins, u.Login)
			}
		}
	})
	if err != nil || len(retire) == 0 {
		return err
	}
	if err := s.apply(ctx, state.RetireUsers{IDs: retire}); err != nil {
		return fmt.Errorf("retire unconfigured users: %w", err)
	}
	if admin {
		s.cfg.Logger.Warn("the first-start admin is retired, its tokens no longer work: an identity source is configured, " +
			"so administrators are the static users named in --admin-users")
	}
	if len(logins) > 0 {
		slices.Sort(logins)
		s.cfg.Logger.Warn("static users no longer configured lost every token; their locks and sessions end when they expire",
			"users", logins)
	}
	return nil
}

// unlisted reports whether u is the first-start admin or a static user
// missing from the configured users.
func unlisted(u state.User, users []state.StaticUser) bool {
	return u.ID == auth.AdminID() || (isStatic(u) && !configured(users, u.ID))
}

// bootstrapAdmin creates the first-start admin when no identity source is
// configured and no user exists: a data dir that ever had users (static,
// GitHub, or a retired admin) gets none, so a restart without
// configuration cannot mint an administrator. The state machine adds its
// own guard (no token at all), which keeps two leaders from racing.
func (s *Server) bootstrapAdmin(ctx context.Context) error {
	empty := false
	if err := s.node.Read(ctx, false, func(v state.View, _ int64) { empty = v.UserCount() == 0 }); err != nil || !empty {
		return err
	}
	cmd, token := auth.NewAdmin()
	res, err := state.Outcome(s.node.Apply(ctx, cmd))
	if err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	if res.Count == 1 {
		s.showAdminToken(token)
	}
	return nil
}

// hasIdentitySource reports whether static tokens or GitHub sign-in are
// configured, which retires the first-start admin.
func (s *Server) hasIdentitySource(users []state.StaticUser) bool {
	return len(users) > 0 || s.cfg.SignIn != nil
}

// isStatic reports whether u was created from the static configuration.
func isStatic(u state.User) bool { return u.ID == auth.StaticUserID(u.Login) }

func configured(users []state.StaticUser, id uuid.UUID) bool {
	return slices.ContainsFunc(users, func(u state.StaticUser) bool { return u.ID == id })
}

// warnUnknownMembers names the group members that are not configured
// static users: a typo there silently keeps someone out of a namespace.
func warnUnknownMembers(log *slog.Logger, groups tenancy.Groups, users []state.StaticUser) {
	var unknown []string
	for _, members := range groups {
		for _, m := range members {
			if !configured(users, auth.StaticUserID(m)) && !slices.Contains(unknown, m) {
				unknown = append(unknown, m)
			}
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		log.Warn("the groups file names users that are not configured static users; they own nothing through it", "users", unknown)
	}
}
