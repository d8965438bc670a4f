// Package version says which OctoStore this is, for `octostore version`,
// User-Agent headers and logs.
package version

import "runtime/debug"

// String is the module version when installed with go install, else the
// VCS revision it was built from, else "dev".
func String() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return "dev"
}
