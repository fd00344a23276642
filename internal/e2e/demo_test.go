package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/testenv"
)

// demoReport is the contract of `hoist demo --json`, decoded from the
// process's output rather than shared with the demo package, so a renamed
// field breaks this test.
type demoReport struct {
	OK           *bool  `json:"ok"`
	HoistURL     string `json:"hoist_url"`
	DashboardURL string `json:"dashboard_url"`
	GitHubURL    string `json:"github_url"`
	SiteURL      string `json:"site_url"`
	TotalMS      int64  `json:"total_ms"`
	Steps        []struct {
		Name  string            `json:"name"`
		OK    *bool             `json:"ok"`
		MS    *int64            `json:"ms"`
		Links map[string]string `json:"links"`
		Error string            `json:"error"`
	} `json:"steps"`
}

// demoSteps are the steps the demo plays, in order (a part of each name).
var demoSteps = []string{"emulator", "edge", "start hoist", "install hoist", "content change", "pushes pre-staging", "smoke-test",
	"staging fast-forwarded", "deployed by diff", "pull request", "injected data", "deliver", "redeliver", "forged", "dashboard", "rolled back automatically",
	"fleet template", "launch two fleet instances", "colour at run time", "roll a release out"}

// TestHoistDemoJSON builds the hoist binary and runs `hoist demo --json`
// as a user does: it must exit 0 and print a report in which every step
// succeeded.
func TestHoistDemoJSON(t *testing.T) {
	chromium := testenv.Chromium(t)
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	bin := filepath.Join(t.TempDir(), "hoist")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hoist")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/hoist: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--json", "--data", t.TempDir())
	cmd.Env = append(os.Environ(), "HOIST_CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run hoist demo: %v\n%s", err, stderr.String())
	}
	var rep demoReport
	if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
		t.Fatalf("hoist demo --json printed no JSON report (%v; exit %v):\n%s\nstderr:\n%s", jerr, err, stdout.String(), stderr.String())
	}
	if err != nil {
		t.Fatalf("hoist demo --json exited %v:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if rep.OK == nil || !*rep.OK {
		t.Fatalf("report ok = %v, want true:\n%s", rep.OK, stdout.String())
	}
	for name, u := range map[string]string{"hoist_url": rep.HoistURL, "dashboard_url": rep.DashboardURL, "github_url": rep.GitHubURL, "site_url": rep.SiteURL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("%s = %q, want a loopback URL", name, u)
		}
	}
	if rep.TotalMS <= 0 {
		t.Errorf("total_ms = %d", rep.TotalMS)
	}
	if len(rep.Steps) != len(demoSteps) {
		t.Fatalf("the report lists %d steps, want %d:\n%s", len(rep.Steps), len(demoSteps), stdout.String())
	}
	for i, want := range demoSteps {
		s := rep.Steps[i]
		if !strings.Contains(s.Name, want) || s.OK == nil || !*s.OK || s.MS == nil || s.Error != "" {
			t.Errorf("step %d = %+v, want %q with ok: true and its time", i+1, s, want)
		}
	}
	// The smoke step links its check run and screenshots served by hoist.
	smoke := rep.Steps[6]
	if !strings.HasPrefix(smoke.Links["check run"], rep.GitHubURL) {
		t.Errorf("smoke step links %v, want its check run", smoke.Links)
	}
	shots := 0
	for k, u := range smoke.Links {
		if strings.HasPrefix(k, "screenshot ") && strings.HasPrefix(u, rep.HoistURL+"/artifacts/") {
			shots++
		}
	}
	if shots == 0 {
		t.Errorf("smoke step links no screenshot: %v", smoke.Links)
	}
	// The rollout step links the hoist/fleet check run of the release.
	if rollout := rep.Steps[len(rep.Steps)-1]; !strings.HasPrefix(rollout.Links["check run"], rep.GitHubURL+"/acme/shops/runs/") {
		t.Errorf("rollout step links %v, want its hoist/fleet check run", rollout.Links)
	}
}
