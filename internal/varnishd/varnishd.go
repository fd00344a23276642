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
func VarnishPath() string {
	if bin := os.Getenv("HOIST_VARNISHD"); bin != "" {
		return bin
	}
	return VarnishBinary
}

// VarnishProcess is a varnishd started by StartVarnish.
type VarnishProcess struct {
	// Addr is where it serves HTTP (host:port on loopback).
	Addr   string
	cmd    *exec.Cmd
	exited chan error
	dir    string
}

// Stop ends varnishd and removes its working folder.
func (v *VarnishProcess) Stop() {
	v.cmd.Process.Signal(os.Interrupt)
	select {
	case <-v.exited:
	case <-time.After(10 * time.Second):
		v.cmd.Process.Kill()
		<-v.exited
	}
	os.RemoveAll(v.dir)
}

// StartVarnish starts varnishd as Varnish does, for callers that are not
// tests (the demo); the caller stops it.
func StartVarnish(vclPath, backendAddr string) (*VarnishProcess, error) {
	bin := VarnishPath()
	host, port, err := net.SplitHostPort(backendAddr)
	if err != nil {
		return nil, fmt.Errorf("varnish backend %q: %w", backendAddr, err)
	}
	src, err := os.ReadFile(vclPath)
	if err != nil {
		return nil, fmt.Errorf("read VCL: %w", err)
	}
	if !vclBackend.Match(src) {
		return nil, fmt.Errorf("%s has no `backend default { … }` to point at the backend", vclPath)
	}
	vcl := vclBackend.ReplaceAll(src, []byte(fmt.Sprintf("backend default {\n    .host = %q;\n    .port = %q;\n}", host, port)))
	// A private folder outside any test's temporary tree: with -j none
	// varnishd stays the user running it, so no permissions change hands;
	// -n wants a short absolute path.
	dir, err := os.MkdirTemp("", "hoist-varnish-")
	if err != nil {
		return nil, fmt.Errorf("varnish dir: %w", err)
	}
	vclFile := filepath.Join(dir, "hoist.vcl")
	if err := os.WriteFile(vclFile, vcl, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write VCL: %w", err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		addr, admin, err := twoFreeAddrs()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		var out versityOutput
		cmd := exec.Command(bin, "-F", "-j", "none",
			"-a", addr, "-T", admin, "-n", filepath.Join(dir, "work"),
			"-f", vclFile, "-s", "malloc,64m")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start varnishd: %w", err)
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
		return &VarnishProcess{Addr: addr, cmd: cmd, exited: exited, dir: dir}, nil
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("varnishd did not start: %v", lastErr)
}

// twoFreeAddrs picks two free loopback ports (HTTP and admin).
func twoFreeAddrs() (string, string, error) {
	var out [2]string
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", fmt.Errorf("pick a port: %w", err)
		}
		out[i] = l.Addr().String()
		l.Close()
	}
	return out[0], out[1], nil
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

// HaveVarnish reports whether varnishd is installed.
func HaveVarnish() bool {
	_, err := exec.LookPath(VarnishPath())
	return err == nil
}
