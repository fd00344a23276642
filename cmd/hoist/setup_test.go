package main

import (
	"bytes"
	"context"
	"html"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/servetest"
)

// `hoist setup` against the emulator, a browser following its page, then
// `hoist serve` on the config it wrote: the App's installation webhook,
// signed with the secret setup received, is accepted.
func TestSetupThenServe(t *testing.T) {
	gh := emulatortest.Start(t)
	alice := gh.CreateUser("alice")
	gh.CreateRepo("acme", "site", alice)
	ln, hoistURL := servetest.Listen(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hoist-server.yml")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pages := make(chan string, 1)
	exit := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		exit <- setupMain(ctx, []string{"--config", cfgPath, "--manifest", "../../app.yml", "--public-url", hoistURL,
			"--github-url", gh.URL()}, &stdout, &stderr, func(p string) { pages <- p })
	}()
	var page string
	select {
	case page = <-pages:
	case code := <-exit:
		t.Fatalf("hoist setup exited %d: %s", code, stderr.String())
	}

	// The browser: load the page, post its form to GitHub, follow the
	// redirect back to setup.
	browser := gh.SignedInClient("alice")
	resp, err := browser.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(body)
	manifest := regexp.MustCompile(`name="manifest" value="([^"]*)"`).FindSubmatch(body)
	if action == nil || manifest == nil {
		t.Fatalf("no manifest form on the setup page:\n%s", body)
	}
	resp, err = browser.PostForm(html.UnescapeString(string(action[1])), map[string][]string{"manifest": {html.UnescapeString(string(manifest[1]))}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "is created") {
		t.Fatalf("after GitHub's redirect: status %d\n%s", resp.StatusCode, body)
	}
	if code := <-exit; code != 0 {
		t.Fatalf("hoist setup exited %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "/installations/new") {
		t.Errorf("setup's output names no installation link:\n%s", stdout.String())
	}

	// hoist serve on that file; only the listener and the data dir are
	// this test's.
	env := map[string]string{"HOIST_ADDR": ln.Addr().String(), "HOIST_DATA_DIR": filepath.Join(dir, "data"), "HOIST_LOG_LEVEL": "warn"}
	cfg, err := serverconfig.LoadServer(cfgPath, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("the config hoist setup wrote does not load: %v", err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	sctx, stop := context.WithCancel(context.Background())
	srv, err := app.New(sctx, cfg, server.Options{Logger: &log, Listener: ln})
	if err != nil {
		stop()
		t.Fatalf("hoist serve does not start on the config hoist setup wrote: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(sctx) }()
	defer func() { stop(); <-done }()

	gh.Install(cfg.GitHub.AppID, "acme/site")
	d, err := gh.Server.WaitDelivery(30*time.Second, func(d emulator.Delivery) bool {
		return d.Event == "installation" && d.StatusCode != 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.AppID != cfg.GitHub.AppID || d.StatusCode/100 != 2 {
		t.Fatalf("installation webhook to hoist: app %d status %d %s, want accepted", d.AppID, d.StatusCode, d.ResponseBody)
	}
}
