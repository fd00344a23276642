// Command fleetbench measures the rollout of one release to a fleet of
// small instances: hoist serve runs in this process on SQLite against the
// GitHub emulator; each instance has its two branches (dev-{name} and
// {name}); a push to the release branch starts the rollout, whose stages
// are deployed into a local folder and checked over HTTP. It prints the
// total time from the push to the finished rollout and the GitHub REST
// requests per instance, by route.
//
//	go run ./bench/fleet -n 100 -wave 10
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/fleet/rollout"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/world"
)

func main() {
	n := flag.Int("n", 100, "instances")
	wave := flag.Int("wave", 10, "instances upgraded at once after the canary")
	interval := flag.Duration("write-interval", 0, "least time between two GitHub writes (0: hoist's default, GitHub's documented 1s)")
	perMinute := flag.Int("writes-per-minute", 0, "most GitHub writes a minute (0: hoist's default, 80)")
	workers := flag.Int("workers", 0, "jobs.workers of the server (0: the default)")
	flag.Parse()
	if err := run(*n, *wave, *interval, *perMinute, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench fleet:", err)
		os.Exit(1)
	}
}

// counter counts the emulator's REST requests by route while on.
type counter struct {
	mu     sync.Mutex
	on     bool
	routes map[string]int
}

func (c *counter) observe(method, specPath string, status int, _ http.Header, _ []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on {
		c.routes[method+" "+specPath]++
	}
}

func run(n, wave int, interval time.Duration, perMinute, workers int) error {
	dir, err := os.MkdirTemp("", "fleetbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hoistURL := "http://" + ln.Addr().String()
	count := &counter{routes: map[string]int{}}
	secret := "fleet-bench-secret"
	w, err := world.Start(world.Spec{Emulator: emulator.Options{DataDir: filepath.Join(dir, "github"), ObserveResponse: count.observe},
		App: emulator.AppSpec{WebhookURL: hoistURL + server.WebhookPath, WebhookSecret: secret}, Repos: []string{"site"}})
	if err != nil {
		return err
	}
	defer w.Close()

	// The fleet's first release and every instance's branches at it.
	work := filepath.Join(dir, "work")
	u, _ := url.Parse(w.GitHub.URL() + "/acme/site.git")
	u.User = url.UserPassword("x-access-token", w.UserToken)
	git := func(args ...string) error {
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Join(work, "public"), 0o755); err != nil {
		return err
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("i%03d", i+1)
	}
	for _, step := range [][]string{{"init", "-q", "-b", "main"}, {"config", "user.email", "bench@example.com"}, {"config", "user.name", "Bench"}} {
		if err := git(step...); err != nil {
			return err
		}
	}
	write := func(version string) error {
		if err := os.MkdirAll(filepath.Join(work, ".github"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(work, ".github", "hoist.yml"), []byte("version: 1\nenvironments:\n  main: { branch: main }\n"), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(work, "public", "index.html"), []byte("<!doctype html><title>Welcome</title><h1>Welcome</h1><p>"+version+"</p>"), 0o644)
	}
	if err := write("v1"); err != nil {
		return err
	}
	push := []string{"push", "-q", u.String(), "HEAD:main", "HEAD:release"}
	for _, name := range names {
		push = append(push, "HEAD:dev-"+name, "HEAD:"+name)
	}
	for _, step := range [][]string{{"add", "-A"}, {"commit", "-q", "-m", "v1"}, push} {
		if err := git(step...); err != nil {
			return err
		}
	}

	gates := &folderGates{work: work, root: filepath.Join(dir, "bucket")}
	cdn := httptest.NewServer(http.FileServer(http.Dir(gates.root)))
	defer cdn.Close()
	gates.cdn = cdn.URL
	done := make(chan struct{})
	fleets := &releaseFleet{fleet: rollout.Fleet{Instances: names, Canaries: names[:1], WaveSize: wave, MaxFailureShare: 0.1}}

	env := map[string]string{
		"HOIST_ADDR": ln.Addr().String(), "HOIST_PUBLIC_URL": hoistURL, "HOIST_DATA_DIR": filepath.Join(dir, "hoist"),
		"HOIST_APP_ID": strconv.FormatInt(w.App.ID, 10), "HOIST_PRIVATE_KEY": string(w.App.PrivateKeyPEM),
		"HOIST_WEBHOOK_SECRET": secret, "HOIST_GITHUB_URL": w.GitHub.URL() + "/",
	}
	file := filepath.Join(dir, "hoist-server.yml")
	if err := os.WriteFile(file, []byte("{}\n"), 0o600); err != nil {
		return err
	}
	cfg, err := serverconfig.LoadServer(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return err
	}
	cfg.Jobs.PollInterval = 50 * time.Millisecond
	if workers > 0 {
		cfg.Jobs.Workers = workers
	}
	if interval > 0 {
		cfg.GitHub.WriteInterval = interval
	}
	if perMinute > 0 {
		cfg.GitHub.WritesPerMinute = perMinute
	}
	log := zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, caps, err := app.Assemble(ctx, cfg, server.Options{Logger: &log, Listener: ln}, app.Hooks{Fleets: fleets, Gates: gates})
	if err != nil {
		return err
	}
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Run(ctx) }()
	if err := world.WaitReady(hoistURL, 30*time.Second); err != nil {
		return err
	}
	// Let hoist finish with the setup's pushes, so they are not counted.
	if err := idle(ctx, srv, 5*time.Minute); err != nil {
		return err
	}

	if err := write("v2"); err != nil {
		return err
	}
	if err := git("commit", "-q", "-am", "v2"); err != nil {
		return err
	}
	count.mu.Lock()
	count.on = true
	count.mu.Unlock()
	fleets.on()
	start := time.Now()
	if err := git("push", "-q", u.String(), "HEAD:release"); err != nil {
		return err
	}
	var r rollout.Rollout
	var insts []rollout.Instance
	for {
		time.Sleep(100 * time.Millisecond)
		if time.Since(start) > 30*time.Minute {
			return errors.New("the rollout did not finish within 30 minutes")
		}
		list, err := caps.Rollouts.Rollouts(ctx, "acme/site", 1)
		if err != nil || len(list) == 0 {
			continue
		}
		if r, insts, err = caps.Rollouts.Rollout(ctx, list[0].ID); err != nil {
			return err
		}
		if r.State != rollout.RolloutRunning {
			break
		}
	}
	rolled := time.Since(start)
	// The check run's last update follows the last instance by at most
	// a pace.
	for r.Reported < r.Version && time.Since(start) < 31*time.Minute {
		time.Sleep(100 * time.Millisecond)
		if r, _, err = caps.Rollouts.Rollout(ctx, r.ID); err != nil {
			return err
		}
	}
	reported := time.Since(start)
	time.Sleep(2 * time.Second) // the webhooks of the last ref updates
	count.mu.Lock()
	count.on = false
	routes := count.routes
	count.mu.Unlock()
	close(done)
	cancel()
	<-stopped

	upgraded := 0
	for _, i := range insts {
		if i.State == rollout.StateUpgraded {
			upgraded++
		} else {
			fmt.Printf("not upgraded: %s %s %s: %s\n", i.Name, i.Stage, i.State, i.Reason)
		}
	}
	total := 0
	type row struct {
		route string
		n     int
	}
	var rows []row
	for k, v := range routes {
		total += v
		rows = append(rows, row{k, v})
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].n > rows[j].n || (rows[i].n == rows[j].n && rows[i].route < rows[j].route)
	})
	fmt.Printf("instances          %d (canary 1, then waves of %d), %d upgraded, rollout %s\n", n, wave, upgraded, r.State)
	fmt.Printf("GitHub writes      every %s, at most %d a minute\n", cfg.GitHub.WriteInterval, cfg.GitHub.WritesPerMinute)
	fmt.Printf("push → finished    %s\n", rolled.Round(time.Millisecond))
	fmt.Printf("push → check run   %s (final table written)\n", reported.Round(time.Millisecond))
	fmt.Printf("GitHub requests    %d, %.2f per instance\n", total, float64(total)/float64(n))
	for _, x := range rows {
		fmt.Printf("  %6d  %.2f/instance  %s\n", x.n, float64(x.n)/float64(n), x.route)
	}
	return nil
}

// idle waits until hoist's job queue has been empty for a second.
func idle(ctx context.Context, srv *server.Server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	quiet := 0
	for time.Now().Before(deadline) {
		n, err := srv.Engine().QueueDepth(ctx)
		if err != nil {
			return err
		}
		var running int
		if err := srv.Store().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'running'`).Scan(&running); err != nil {
			return err
		}
		if n+running == 0 {
			quiet++
			if quiet >= 10 {
				return nil
			}
		} else {
			quiet = 0
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("hoist stayed busy with the setup's pushes")
}

// releaseFleet is the bench's fleet: it follows the release branch once
// the measured release is pushed (the setup's first push starts nothing).
type releaseFleet struct {
	mu      sync.Mutex
	enabled bool
	fleet   rollout.Fleet
}

func (f *releaseFleet) on() { f.mu.Lock(); f.enabled = true; f.mu.Unlock() }

func (f *releaseFleet) Release(_ context.Context, _ rollout.Repo, ref string) (rollout.Fleet, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fleet, f.enabled && ref == "refs/heads/release", nil
}

// folderGates deploy a stage into a folder (the release's files and the
// instance's settings) and check it over HTTP: the page answers with its
// heading and the settings file is valid JSON.
type folderGates struct {
	work, root, cdn string
}

func (g *folderGates) Check(ctx context.Context, t rollout.Target) (rollout.Result, error) {
	dir := filepath.Join(g.root, t.Instance, string(t.Stage))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rollout.Result{}, err
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", fmt.Sprintf("git -C %q archive --format=tar %s public | tar -x -C %q --strip-components=1", g.work, t.SHA, dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		return rollout.Result{}, fmt.Errorf("deploy: %v: %s", err, out)
	}
	settings, _ := json.Marshal(map[string]string{"name": t.Instance})
	if err := os.WriteFile(filepath.Join(dir, "hoist-settings.json"), settings, 0o644); err != nil {
		return rollout.Result{}, err
	}
	base := g.cdn + "/" + t.Instance + "/" + string(t.Stage) + "/"
	res := rollout.Result{Link: base}
	for _, p := range []string{"", "hoist-settings.json"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return res, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || (p == "" && !strings.Contains(string(body), "Welcome")) {
			res.Reason = fmt.Sprintf("GET %s: %s", base+p, resp.Status)
			return res, nil
		}
	}
	res.Passed = true
	return res, nil
}
