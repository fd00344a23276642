package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/varnishd"
)

// VersityGW starts versitygw, an S3-compatible server, with the posix
// backend in a temporary folder on a free loopback port, for the duration
// of the test. It returns the endpoint URL and the root credentials; buckets
// are created by the test. The binary is $HOIST_VERSITYGW, versitygw on the
// PATH or in $(go env GOPATH)/bin; the test skips only when none exists
// (CI installs it: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0).
func VersityGW(t testing.TB) (endpoint, accessKey, secretKey string) {
	t.Helper()
	endpoint, accessKey, secretKey, _ = VersityGWDir(t)
	return
}

// VersityGWDir is VersityGW that also returns the backend folder, where each
// bucket is a folder and each object a file.
func VersityGWDir(t testing.TB) (endpoint, accessKey, secretKey, dir string) {
	t.Helper()
	bin := versityBinary(t)
	dir = t.TempDir()
	accessKey, secretKey = "hoisttest", "hoisttest-secret-key"
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		addr := versityFreePort(t)
		var out varnishd.LockedBuffer
		cmd := exec.Command(bin, "--access", accessKey, "--secret", secretKey, "--port", addr, "--quiet", "posix", dir)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := varnishd.WaitListening(addr, exited, 10*time.Second); err != nil {
			cmd.Process.Kill()
			lastErr = fmt.Errorf("%v; output: %s", err, out.String())
			continue // the port may have been taken between picking and binding
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		return "http://" + addr, accessKey, secretKey, dir
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return
}

func versityBinary(t testing.TB) string {
	if p := os.Getenv("HOIST_VERSITYGW"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("HOIST_VERSITYGW=%s is not an executable: %v", p, err)
		}
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	for _, gp := range filepath.SplitList(gopath) {
		p := filepath.Join(gp, "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skipf("versitygw not installed (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0, or set HOIST_VERSITYGW)")
	return ""
}

func versityFreePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
