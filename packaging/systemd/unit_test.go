// Package systemd holds hoist's systemd unit; its test has systemd itself
// check the unit.
package systemd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// verify runs systemd-analyze verify on unit inside a root made for it: the
// system's own units (for the targets it names) and a stand-in for hoist's
// binary, so the check does not depend on hoist being installed. Warnings
// (an unknown key, a bad value) are printed and the exit code stays 0, so
// any output counts as a failure.
func verify(t *testing.T, unit []byte) (string, error) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd)")
	}
	sysUnits := ""
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if _, err := os.Stat(filepath.Join(d, "multi-user.target")); err == nil {
			sysUnits = d
			break
		}
	}
	if sysUnits == "" {
		t.Fatal("systemd-analyze is installed but the system's units are not")
	}
	root := t.TempDir()
	for _, d := range []string{"usr/local/bin", "etc/systemd/system", "usr/lib/systemd"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", sysUnits, filepath.Join(root, "usr/lib/systemd/system")).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v: %s", sysUnits, err, out)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/local/bin/hoist"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/hoist.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--root="+root, "hoist.service").CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestUnitVerifies(t *testing.T) {
	unit, err := os.ReadFile("hoist.service")
	if err != nil {
		t.Fatal(err)
	}
	out, err := verify(t, unit)
	if err != nil || out != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, want := range []string{"Restart=on-failure", "EnvironmentFile=", "DynamicUser=yes", "NoNewPrivileges=yes",
		"ProtectSystem=strict", "ExecStart=/usr/local/bin/hoist serve "} {
		if !bytes.Contains(unit, []byte("\n"+want)) {
			t.Errorf("the unit lost %q", want)
		}
	}
}

// The check above must catch a misspelt setting, which systemd only warns
// about and then ignores.
func TestUnitTypoFails(t *testing.T) {
	unit, err := os.ReadFile("hoist.service")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(unit, []byte("\nProtectSystem=strict"), []byte("\nProtectSytem=strict"), 1)
	if bytes.Equal(bad, unit) {
		t.Fatal("hoist.service no longer sets ProtectSystem=strict; pick another key for this test")
	}
	out, err := verify(t, bad)
	if err == nil && !strings.Contains(out, "ProtectSytem") {
		t.Fatalf("a misspelt key went unnoticed: %q", out)
	}
}
