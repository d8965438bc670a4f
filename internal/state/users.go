package state

import "github.com/google/uuid"

func (s *State) syncStaticUsers(now int64, c SyncStaticUsers) Result {
	want := make(map[TokenHash]uuid.UUID)
	for _, u := range c.Users {
		s.putUser(now, u.ID, u.Login)
		for _, h := range u.Hashes {
			want[h] = u.ID
		}
	}
	for h, e := range s.tokens {
		if _, keep := want[h]; e.Static && !keep {
			delete(s.tokens, h)
		}
	}
	for h, id := range want {
		s.tokens[h] = tokenEntry{Hash: h, UserID: id, Static: true}
	}
	return Result{}
}

func (s *State) bootstrapAdmin(now int64, c BootstrapAdmin) Result {
	if len(s.tokens) > 0 {
		return Result{}
	}
	s.putUser(now, c.ID, c.Login)
	s.tokens[c.Hash] = tokenEntry{Hash: c.Hash, UserID: c.ID}
	return Result{Count: 1}
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
