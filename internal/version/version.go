package version

import "runtime/debug"

// Version, when set at link time (-ldflags "-X
// github.com/octostore/octostore/internal/version.Version=v1.2.3"), is
// the version: release builds and container images have no VCS data.
var Version string

// String is Version when set, else the module version when installed with
// go install, else the VCS revision it was built from, else "dev".
func String() string {
	if Version != "" {
		return Version
	}
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
