package main

import (
	"errors"
	"flag"

	"github.com/octostore/octostore/internal/tenancy"
)

// tenancyFlags are serve's tenancy settings.
type tenancyFlags struct {
	mode       string
	anyShared  bool
	groupsFile string
}

func addTenancyFlags(fs *flag.FlagSet) *tenancyFlags {
	f := &tenancyFlags{}
	fs.StringVar(&f.mode, "tenancy", "", "shared (one trust domain) or isolated (a lock name's first component is its owner); "+
		"default: isolated with --github-allow-any-user, shared otherwise")
	fs.BoolVar(&f.anyShared, "github-allow-any-user-shared", false,
		"with --github-allow-any-user, share one lock namespace among every GitHub account (default: isolated)")
	fs.StringVar(&f.groupsFile, "groups-file", "", "file of \"group: user1,user2\" lines: static groups, owners in isolated tenancy")
	return f
}

// resolve picks the mode. Every GitHub account sharing one namespace
// with every other is refused unless --github-allow-any-user-shared says
// so: a stranger could read and squat on everyone's lock names.
func (f *tenancyFlags) resolve(allowAnyUser bool) (tenancy.Mode, error) {
	if f.anyShared && !allowAnyUser {
		return tenancy.Shared, errors.New("--github-allow-any-user-shared goes with --github-allow-any-user")
	}
	mode := tenancy.Shared
	if allowAnyUser && !f.anyShared {
		mode = tenancy.Isolated
	}
	if f.mode != "" {
		var err error
		if mode, err = tenancy.ParseMode(f.mode); err != nil {
			return mode, errors.New("--" + err.Error())
		}
	}
	switch {
	case mode == tenancy.Shared && allowAnyUser && !f.anyShared:
		return mode, errors.New("--tenancy shared with --github-allow-any-user lets every GitHub account read and take " +
			"every lock name: add --github-allow-any-user-shared if that is what you want, or use --tenancy isolated")
	case mode == tenancy.Shared && f.groupsFile != "":
		return mode, errors.New("--groups-file names owners, which only --tenancy isolated has")
	}
	return mode, nil
}
