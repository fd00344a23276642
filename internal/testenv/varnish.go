package testenv

import (
	"os/exec"
	"testing"

	"github.com/hoist-dev/hoist/internal/varnishd"
)

// VarnishBinary is where Debian installs varnishd; HOIST_VARNISHD
// overrides it.
const VarnishBinary = varnishd.Binary

// VarnishProcess is a varnishd started by StartVarnish.
type VarnishProcess = varnishd.Process

// Varnish starts varnishd with the VCL at vclPath, its default backend
// replaced by backendAddr (host:port), listening on a free loopback port,
// for the duration of the test. It returns the address (host:port) that
// serves HTTP. It skips the test only when varnishd is absent (CI installs
// Debian's varnish and varnish-modules).
func Varnish(t testing.TB, vclPath, backendAddr string) string {
	t.Helper()
	if _, err := exec.LookPath(VarnishPath()); err != nil {
		t.Skipf("varnishd not installed (apt-get install varnish varnish-modules, or set HOIST_VARNISHD): %v", err)
	}
	v, err := StartVarnish(vclPath, backendAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Stop)
	return v.Addr
}

// VarnishPath is the varnishd binary: HOIST_VARNISHD, else Debian's.
func VarnishPath() string { return varnishd.Path() }

// StartVarnish starts varnishd as Varnish does; the caller stops it.
func StartVarnish(vclPath, backendAddr string) (*VarnishProcess, error) {
	return varnishd.Start(vclPath, backendAddr)
}

// HaveVarnish reports whether varnishd is installed.
func HaveVarnish() bool { return varnishd.Installed() }
