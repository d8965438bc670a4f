package tenancy

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/octostore/octostore/internal/state"
)

// Groups are the static groups of --groups-file: each group's members,
// by static user name. A group is an owner namespace its members share.
type Groups map[string][]string

// ParseGroups reads "group: user1,user2" lines; blank lines and lines
// starting with # are ignored. A group listed twice gets the members of
// both lines. Group and user names follow the static user names' rule
// (1-64 letters, digits, '.', '_' or '-'), since a group's name is the
// first component of lock names.
func ParseGroups(text string) (Groups, error) {
	g := Groups{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, members, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || !validName(name) {
			return nil, fmt.Errorf("groups line %d: want \"group: user1,user2\" with a group name of 1-64 letters, digits, '.', '_' or '-'", i+1)
		}
		for _, m := range strings.Split(members, ",") {
			m = strings.TrimSpace(m)
			if m == "" {
				continue
			}
			if !validName(m) {
				return nil, fmt.Errorf("groups line %d: invalid user name %q: use 1-64 letters, digits, '.', '_' or '-'", i+1, m)
			}
			if !slices.Contains(g[name], m) {
				g[name] = append(g[name], m)
			}
		}
		if g[name] == nil {
			g[name] = []string{}
		}
	}
	return g, nil
}

// LoadGroups reads a groups file; an empty path is no groups.
func LoadGroups(path string) (Groups, error) {
	if path == "" {
		return Groups{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read groups file: %w", err)
	}
	return ParseGroups(string(b))
}

// Of returns the groups user belongs to, sorted.
func (g Groups) Of(user string) []string {
	var out []string
	for name, members := range g {
		if slices.Contains(members, user) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// validName is a static user or group name: one lock name component of
// at most 64 bytes.
func validName(s string) bool {
	return state.ValidLockComponent(s) == nil
}
