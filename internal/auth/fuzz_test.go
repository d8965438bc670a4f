package auth

import (
	"slices"
	"strings"
	"testing"

	"github.com/octostore/octostore/internal/state"
)

// Seed corpora live under testdata/fuzz/<FuzzName>/ and are replayed by
// every `go test`.

// specToken is the documented token rule, written independently of
// validToken: 1..512 bytes, none of them a space or an ASCII control
// character.
func specToken(tok string) bool {
	if len(tok) < 1 || len(tok) > 512 {
		return false
	}
	return !strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// FuzzBearerToken proves that BearerToken never panics; that a token it
// returns satisfies specToken and is what follows "Bearer" (any case), one
// space and any further spaces; that it returns "" with false; and that it
// accepts every header of exactly that shape.
func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc")
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := BearerToken(header)
		shaped := len(header) >= 7 && strings.EqualFold(header[:6], "bearer") && header[6] == ' '
		if !ok {
			if tok != "" {
				t.Fatalf("BearerToken(%q) = %q with false", header, tok)
			}
			if shaped && specToken(strings.TrimLeft(header[7:], " ")) {
				t.Fatalf("BearerToken(%q) refused a well-formed header", header)
			}
			return
		}
		if !specToken(tok) {
			t.Fatalf("BearerToken(%q) returned token %q that breaks the token rule", header, tok)
		}
		if !shaped || strings.TrimLeft(header[7:], " ") != tok {
			t.Fatalf("BearerToken(%q) = %q, which is not the header's bearer token", header, tok)
		}
	})
}

// specLogin is the documented login rule, written independently of
// validLogin: 1..64 letters, digits, '.', '_' or '-', and not "." or "..",
// which ValidLockName refuses as lock-name components.
func specLogin(login string) bool {
	if len(login) < 1 || len(login) > 64 || login == "." || login == ".." {
		return false
	}
	return !strings.ContainsFunc(login, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	})
}

// FuzzParseTokens proves that ParseTokens never panics and, when it
// succeeds, returns users with valid, distinct logins, their stable IDs,
// at least one hash each, no hash twice and no hash shared between users;
// and that every "login:token" entry of the input (split, trimmed and
// commented as documented) is among the hashes of its user.
func FuzzParseTokens(f *testing.F) {
	f.Add("alice:A1, bob:B1\nalice:A2\n# comment\n\n  carol : C1 ")
	f.Add("alice:alice-token-one-0123, bob:bob-token-one-012345\n# comment\n  carol : carol-token-one-0123 ")
	f.Fuzz(func(t *testing.T, text string) {
		users, err := ParseTokens(text)
		if err != nil {
			if users != nil {
				t.Fatalf("ParseTokens(%q) returned users along with error %v", text, err)
			}
			return
		}
		byLogin := map[string]state.StaticUser{}
		owner := map[state.TokenHash]string{}
		for _, u := range users {
			if !specLogin(u.Login) {
				t.Fatalf("ParseTokens(%q): invalid login %q", text, u.Login)
			}
			if _, dup := byLogin[u.Login]; dup {
				t.Fatalf("ParseTokens(%q): login %q listed twice", text, u.Login)
			}
			byLogin[u.Login] = u
			if u.ID != StaticUserID(u.Login) {
				t.Fatalf("ParseTokens(%q): user %q has ID %v", text, u.Login, u.ID)
			}
			if len(u.Hashes) == 0 {
				t.Fatalf("ParseTokens(%q): user %q has no token", text, u.Login)
			}
			for _, h := range u.Hashes {
				if prev, dup := owner[h]; dup {
					t.Fatalf("ParseTokens(%q): a token of %q appears again for %q", text, prev, u.Login)
				}
				owner[h] = u.Login
			}
		}
		for _, entry := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' }) {
			entry = strings.TrimSpace(entry)
			if entry == "" || strings.HasPrefix(entry, "#") {
				continue
			}
			login, tok, _ := strings.Cut(entry, ":")
			u, ok := byLogin[strings.TrimSpace(login)]
			if !ok || !slices.Contains(u.Hashes, state.HashToken(strings.TrimSpace(tok))) {
				t.Fatalf("ParseTokens(%q): entry %q is missing from the result", text, entry)
			}
		}
	})
}
