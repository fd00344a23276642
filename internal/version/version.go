// Package version holds the build's version, set at link time with
// -ldflags "-X github.com/hoist-dev/hoist/internal/version.Version=v1.2.3".
package version

// Version is the release this binary was built from; "dev" for local builds.
var Version = "dev"

// UserAgent is sent on every outgoing HTTP request so operators of the
// services hoist calls can tell its traffic apart.
func UserAgent() string { return "hoist/" + Version }
