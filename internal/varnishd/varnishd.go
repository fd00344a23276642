// Package varnishd starts a private varnishd on loopback with a given VCL.
// It is used by the demo (part of the hoist binary) and, through testenv,
// by tests; it must not import testing, so the binary links no test kit.
package varnishd

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Binary is where Debian installs varnishd; HOIST_VARNISHD overrides it.
const Binary = "/usr/sbin/varnishd"

var vclBackend = regexp.MustCompile(`(?s)backend default \{.*?\n\}`)

// Path is the varnishd binary: HOIST_VARNISHD, else Debian's.
func Path() string {
	if bin := os.Getenv("HOIST_VARNISHD"); bin != "" {
		return bin
	}
	return Binary
}

// Process is a varnishd started by Start.
type Process struct {
	// Addr is where it serves HTTP (host:port on loopback).
	Addr   string
	cmd    *exec.Cmd
	exited chan error
	dir    string
}

// Stop ends varnishd and removes its working folder.
func (v *Process) Stop() {
	v.cmd.Process.Signal(os.Interrupt)
	select {
	case <-v.exited:
	case <-time.After(10 * time.Second):
		v.cmd.Process.Kill()
		<-v.exited
	}
	os.RemoveAll(v.dir)
}

// Start runs varnishd with the VCL at vclPath, its default backend replaced
// by backendAddr (host:port), listening on a free loopback port; the caller
// stops it.
func Start(vclPath, backendAddr string) (*Process, error) {
	bin := Path()
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
		var out LockedBuffer
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
		if err := WaitListening(addr, exited, 30*time.Second); err != nil {
			cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("%v; output:\n%s", err, out.String())
			if strings.Contains(out.String(), "VCL compilation failed") || strings.Contains(out.String(), "Message from VCC") {
				break // retrying does not fix a VCL error
			}
			continue
		}
		return &Process{Addr: addr, cmd: cmd, exited: exited, dir: dir}, nil
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

// WaitListening waits until addr accepts connections or the process whose
// exit exited reports has ended (varnishd listens once the child has loaded
// the VCL; the test kit waits for its other servers the same way).
func WaitListening(addr string, exited <-chan error, limit time.Duration) error {
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

// Installed reports whether varnishd is installed.
func Installed() bool {
	_, err := exec.LookPath(Path())
	return err == nil
}

// LockedBuffer collects a child process's output, written by its copying
// goroutines and read on failure (the test kit uses it for its servers).
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *LockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *LockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
