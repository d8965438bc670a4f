package auth

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/octostore/octostore/internal/state"
)

// namespace derives stable user IDs from logins, so a static user keeps
// its user_id (and its locks) across restarts and on every node.
var namespace = uuid.MustParse("6f637473-746f-5265-8000-6f63746f7374")

// AdminLogin is the user created on first start when no identity source
// is configured.
const AdminLogin = "admin"

// StaticUserID is the stable ID of the operator-configured user login.
func StaticUserID(login string) uuid.UUID { return uuid.NewSHA1(namespace, []byte("static:"+login)) }

// adminID is fixed so that bootstrapping again reuses the same user.
var adminID = uuid.NewSHA1(namespace, []byte("bootstrap:"+AdminLogin))

// AdminID is the ID of the first-start admin.
func AdminID() uuid.UUID { return adminID }

// MinStaticTokenLen is the shortest static token accepted. A bearer token
// is a password that is tried over the network; below 16 characters an
// operator's placeholder ("changeme", "test") is guessable, and the
// failure limit per address only slows guessing down.
const MinStaticTokenLen = 16

// ParseTokens parses "user:token" entries separated by commas or newlines,
// as in OCTOSTORE_TOKENS and --tokens-file. Blank lines and lines starting
// with # are ignored. A user may have several tokens; a token may not
// belong to two users. User names are 1-64 letters, digits, '.', '_' or
// '-'; tokens are MinStaticTokenLen to 512 printable characters without
// spaces.
func ParseTokens(text string) ([]state.StaticUser, error) {
	byLogin := map[string]*state.StaticUser{}
	owner := map[state.TokenHash]string{}
	var order []string
	for _, entry := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' }) {
		entry = strings.TrimSpace(entry)
		if entry == "" || strings.HasPrefix(entry, "#") {
			continue
		}
		login, token, err := parseEntry(entry)
		if err != nil {
			return nil, err
		}
		h := state.HashToken(token)
		if prev, dup := owner[h]; dup && prev != login {
			return nil, fmt.Errorf("the same token is configured for users %q and %q", prev, login)
		}
		owner[h] = login
		u := byLogin[login]
		if u == nil {
			u = &state.StaticUser{ID: StaticUserID(login), Login: login}
			byLogin[login] = u
			order = append(order, login)
		}
		if !slices.Contains(u.Hashes, h) {
			u.Hashes = append(u.Hashes, h)
		}
	}
	users := make([]state.StaticUser, len(order))
	for i, login := range order {
		users[i] = *byLogin[login]
	}
	return users, nil
}

func parseEntry(entry string) (login, token string, err error) {
	login, token, ok := strings.Cut(entry, ":")
	login, token = strings.TrimSpace(login), strings.TrimSpace(token)
	switch {
	case !ok || token == "":
		return "", "", errors.New("token entries must look like user:token")
	case !validLogin(login):
		return "", "", fmt.Errorf("invalid user name %q: use 1-64 letters, digits, '.', '_' or '-'", login)
	case !validToken(token):
		return "", "", fmt.Errorf("invalid token for user %q: %d-%d printable characters without spaces", login, MinStaticTokenLen, maxTokenLen)
	case len(token) < MinStaticTokenLen:
		// The message names the user, never the token: it ends up in logs.
		return "", "", fmt.Errorf("the token for user %q is too short: static tokens need at least %d characters (try: openssl rand -hex 32)", login, MinStaticTokenLen)
	}
	return login, token, nil
}

func validLogin(login string) bool {
	return state.ValidLockComponent(login) == nil
}

func validToken(token string) bool {
	if token == "" || len(token) > maxTokenLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] == 0x7f {
			return false
		}
	}
	return true
}

// LoadTokens combines the OCTOSTORE_TOKENS text and the tokens file (either
// may be empty) into one list of static users.
func LoadTokens(envText, file string) ([]state.StaticUser, error) {
	text := envText
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read tokens file: %w", err)
		}
		text += "\n" + string(b)
	}
	return ParseTokens(text)
}
