package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/auth"
	"github.com/octostore/octostore/internal/state"
)

// retireUnlisted takes every token (rotated and runtime ones included) of
// the static users that hold one but are no longer configured. Static
// users are recognised by their ID, which is derived from the login, so
// users from GitHub sign-in are never touched. SyncStaticUsers alone only
// drops static tokens: a rotation's token would outlive the user's removal.
func (s *Server) retireUnlisted(ctx context.Context, users []state.StaticUser) error {
	var retire []uuid.UUID
	var logins []string
	err := s.node.Read(ctx, false, func(v state.View, _ int64) {
		for _, u := range v.Users() {
			if isStatic(u) && !configured(users, u.ID) && len(v.Tokens(u.ID)) > 0 {
				retire = append(retire, u.ID)
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
	slices.Sort(logins)
	s.cfg.Logger.Warn("static users no longer configured lost every token; their locks and sessions end when they expire",
		"users", logins)
	return nil
}

// isStatic reports whether u was created from the static configuration.
func isStatic(u state.User) bool { return u.ID == auth.StaticUserID(u.Login) }

func configured(users []state.StaticUser, id uuid.UUID) bool {
	return slices.ContainsFunc(users, func(u state.StaticUser) bool { return u.ID == id })
}
