package state

import (
	"cmp"
	"slices"

	"github.com/google/uuid"
)

func (s *State) syncStaticUsers(now int64, c SyncStaticUsers) Result {
	want := make(map[TokenHash]uuid.UUID)
	for _, u := range c.Users {
		s.putUser(now, u.ID, u.Login)
		for _, h := range u.Hashes {
			if _, gone := s.revoked[h]; !gone {
				want[h] = u.ID
			}
		}
	}
	for h, t := range s.tokens {
		if _, keep := want[h]; t.Source == SourceStatic && !keep {
			delete(s.tokens, h)
		}
	}
	for h, id := range want {
		if t, ok := s.tokens[h]; !ok || t.UserID != id || t.Source != SourceStatic {
			s.tokens[h] = Token{Hash: h, UserID: id, Source: SourceStatic, CreatedAt: now}
		}
	}
	return Result{}
}

func (s *State) bootstrapAdmin(now int64, c BootstrapAdmin) Result {
	if len(s.tokens) > 0 {
		return Result{}
	}
	s.putUser(now, c.ID, c.Login)
	s.tokens[c.Hash] = Token{Hash: c.Hash, UserID: c.ID, Source: SourceBootstrap, CreatedAt: now}
	return Result{Count: 1}
}

// retireUsers deletes every token of the listed users and counts them.
// A static token is deleted, not revoked: configuring the user again
// with the same token is the operator's decision and must work.
func (s *State) retireUsers(c RetireUsers) Result {
	gone := make(map[uuid.UUID]bool, len(c.IDs))
	for _, id := range c.IDs {
		gone[id] = true
	}
	n := 0
	for h, t := range s.tokens {
		if gone[t.UserID] {
			delete(s.tokens, h)
			n++
		}
	}
	return Result{Count: n}
}

// issueToken records a signed-in user (creating or renaming it) and its
// new token, revoking its oldest tokens beyond MaxTokensPerUser.
func (s *State) issueToken(now int64, c IssueToken) Result {
	if _, taken := s.tokens[c.Hash]; taken {
		return Result{Err: ErrInvalidCommand} // random tokens never collide
	}
	s.putUser(now, c.UserID, c.Login)
	s.tokens[c.Hash] = Token{Hash: c.Hash, UserID: c.UserID, Source: SourceSignIn, CreatedAt: now}
	s.trimTokens(c.UserID)
	return Result{}
}

// reissueAdmin adds a token for the first-start admin, which must exist:
// a data dir whose users all come from an identity source has none, and
// its operator configures a token instead.
func (s *State) reissueAdmin(now int64, c ReissueAdmin) Result {
	if _, ok := s.users[c.ID]; !ok {
		return Result{Err: ErrUnknownUser}
	}
	if _, taken := s.tokens[c.Hash]; taken {
		return Result{Err: ErrInvalidCommand} // random tokens never collide
	}
	s.tokens[c.Hash] = Token{Hash: c.Hash, UserID: c.ID, Source: SourceBootstrap, CreatedAt: now}
	s.trimTokens(c.ID)
	return Result{}
}

// trimTokens revokes a user's oldest runtime tokens beyond
// MaxTokensPerUser, so that no user's tokens grow without bound.
func (s *State) trimTokens(user uuid.UUID) {
	mine := s.tokensOf(user)
	for i := 0; len(mine)-i > MaxTokensPerUser; i++ {
		if mine[i].Source != SourceStatic {
			s.dropToken(mine[i])
		}
	}
}

// rotateToken replaces Old with New for the same user, at once. The new
// token keeps the old one's scope and expiry: rotating must never widen
// or prolong what a token may do.
func (s *State) rotateToken(now int64, c RotateToken) Result {
	old, ok := s.tokens[c.Old]
	if _, taken := s.tokens[c.New]; !ok || taken {
		return Result{Err: ErrTokenNotFound}
	}
	s.dropToken(old)
	nt := old
	nt.Hash, nt.Source, nt.CreatedAt = c.New, SourceRotated, now
	s.tokens[c.New] = nt
	return Result{}
}

// revokeToken deletes a token; with UserID set, only that user's.
func (s *State) revokeToken(c RevokeToken) Result {
	t, ok := s.tokens[c.Hash]
	if !ok || (c.UserID != uuid.Nil && t.UserID != c.UserID) {
		return Result{Err: ErrTokenNotFound}
	}
	s.dropToken(t)
	return Result{}
}

func (s *State) dropToken(t Token) {
	delete(s.tokens, t.Hash)
	if t.Source == SourceStatic {
		s.revoked[t.Hash] = struct{}{}
	}
}

// tokensOf returns user's tokens, oldest first.
func (s *State) tokensOf(user uuid.UUID) []Token {
	var out []Token
	for _, t := range s.tokens {
		if t.UserID == user {
			out = append(out, t)
		}
	}
	sortTokens(out)
	return out
}

func sortTokens(ts []Token) {
	slices.SortFunc(ts, func(a, b Token) int {
		return cmp.Or(cmp.Compare(a.CreatedAt, b.CreatedAt), slices.Compare(a.Hash[:], b.Hash[:]))
	})
}

// putUser creates the user or updates its login, keeping its ID and
// creation time: a renamed account keeps its locks.
func (s *State) putUser(now int64, id uuid.UUID, login string) {
	if u, ok := s.users[id]; ok {
		if u.Login != login {
			nu := *u
			nu.Login = login
			s.users[id] = &nu
		}
		return
	}
	s.users[id] = &User{ID: id, Login: login, CreatedAt: now}
}
