package state

// createToken stores a new token. A created (scoped) token is refused
// beyond MaxTokensPerUser; a sign-in token evicts the user's oldest, as
// IssueToken does.
func (s *State) createToken(now int64, c CreateToken) Result {
	s.sweepExpiredTokens(now)
	if _, taken := s.tokens[c.Hash]; taken {
		return Result{Err: ErrInvalidCommand} // random tokens never collide
	}
	if c.Login != "" {
		s.putUser(now, c.UserID, c.Login)
	} else if _, ok := s.users[c.UserID]; !ok {
		return Result{Err: ErrUnknownUser}
	}
	if c.Source == SourceCreated && len(s.tokensOf(c.UserID)) >= MaxTokensPerUser {
		return Result{Err: ErrTooManyTokens}
	}
	t := Token{Hash: c.Hash, UserID: c.UserID, Source: c.Source, CreatedAt: now,
		Name: c.Name, Access: c.Access, Prefixes: c.Prefixes}
	if c.TTL > 0 {
		t.ExpiresAt = now + int64(c.TTL)
	}
	if c.Slide {
		t.Slide = c.TTL
	}
	s.tokens[c.Hash] = t
	s.trimTokens(c.UserID)
	return Result{Token: t}
}

// touchTokens records a use of each live token; tokens gone or expired
// meanwhile are skipped, not errors: the use was recorded on a request
// that already succeeded.
func (s *State) touchTokens(now int64, c TouchTokens) Result {
	s.sweepExpiredTokens(now)
	n := 0
	for _, h := range c.Hashes {
		t, ok := s.tokens[h]
		if !ok {
			continue
		}
		t.LastUsed = now
		if t.Slide > 0 {
			t.ExpiresAt = now + int64(t.Slide)
		}
		s.tokens[h] = t
		n++
	}
	return Result{Count: n}
}

// sweepExpiredTokens removes every expired token. Expired tokens are
// refused at authentication already; removing them is housekeeping,
// done lazily by the token commands (each use of a token is recorded at
// least hourly, so a live cluster sweeps at least that often). It costs
// one pass over the tokens, which these rare commands can afford.
func (s *State) sweepExpiredTokens(now int64) {
	for h, t := range s.tokens {
		if t.ExpiredAt(now) {
			delete(s.tokens, h)
		}
	}
}
