package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// VarnishBinary is where Debian installs varnishd; HOIST_VARNISHD
// overrides it.
const VarnishBinary = "/usr/sbin/varnishd"

var vclBackend = regexp.MustCompile(`(?s)backend default \{.*?\n\}`)

// Varnish starts varnishd with the VCL at vclPath, its default backend
// replaced by backendAddr (host:port), listening on a free loopback port,
// for the duration of the test. It returns the address (host:port) that
// serves HTTP. It skips the test only when varnishd is absent (CI installs
// Debian's varnish and varnish-modules).
func Varnish(t testing.TB, vclPath, backendAddr string) string {
	t.Helper()
	bin := os.Getenv("HOIST_VARNISHD")
	if bin == "" {
		bin = VarnishBinary
	}
	if _, err := exec.LookPath(bin); err != nil {
		t.Skipf("varnishd not installed (apt-get install varnish varnish-modules, or set HOIST_VARNISHD): %v", err)
	}
	host, port, err := net.SplitHostPort(backendAddr)
	if err != nil {
		t.Fatalf("varnish backend %q: %v", backendAddr, err)
	}
	src, err := os.ReadFile(vclPath)
	if err != nil {
		t.Fatalf("read VCL: %v", err)
	}
	if !vclBackend.Match(src) {
		t.Fatalf("%s has no `backend default { … }` to point at the test backend", vclPath)
	}
	vcl := vclBackend.ReplaceAll(src, []byte(fmt.Sprintf("backend default {\n    .host = %q;\n    .port = %q;\n}", host, port)))
	// A private folder outside t.TempDir's tree: with -j none varnishd
	// stays the user running the test, so no permissions change hands;
	// -n wants a short absolute path.
	dir, err := os.MkdirTemp("", "hoist-varnish-")
	if err != nil {
		t.Fatalf("varnish dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	vclFile := filepath.Join(dir, "test.vcl")
	if err := os.WriteFile(vclFile, vcl, 0o644); err != nil {
		t.Fatalf("write VCL: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		addr, admin := freeAddr(t), freeAddr(t)
		var out versityOutput
		cmd := exec.Command(bin, "-F", "-j", "none",
			"-a", addr, "-T", admin, "-n", filepath.Join(dir, "work"),
			"-f", vclFile, "-s", "malloc,64m")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start varnishd: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitHTTP(addr, exited, 30*time.Second); err != nil {
			cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("%v; output:\n%s", err, out.String())
			if strings.Contains(out.String(), "VCL compilation failed") || strings.Contains(out.String(), "Message from VCC") {
				break // retrying does not fix a VCL error
			}
			continue
		}
		t.Cleanup(func() {
			cmd.Process.Signal(os.Interrupt)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		})
		return addr
	}
	t.Fatalf("varnishd did not start: %v", lastErr)
	return ""
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHTTP waits until addr accepts connections (varnishd listens once the
// child has loaded the VCL).
func waitHTTP(addr string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited early: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("not listening on %s after %s", addr, limit)
}
