// Package servetest runs a hoist server in process against the GitHub
// emulator, for tests: the settings of an emulated App, an optional server
// configuration file, a short job poll interval, logs into the test's
// output, and a clean stop when the test ends. The capability, app and
// end-to-end tests all start hoist through it.
package servetest

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/server"
)

// Listen opens hoist's listener first, so that the emulated App's webhook
// URL can name it; it returns the listener and hoist's base URL.
func Listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// Spec says how to start hoist.
type Spec struct {
	GitHub *emulatortest.Harness
	App    *emulatortest.TestApp
	// Listener is from Listen; hoist's public URL is its address.
	Listener net.Listener
	// MetricsListener and PreviewListener, when set, serve /metrics and
	// the preview origin (with metrics_addr and preview_addr set to
	// their addresses).
	MetricsListener, PreviewListener net.Listener
	// ServerYAML is a server configuration file's content (empty: none).
	ServerYAML string
	// Env adds to or overrides the HOIST_* settings (and ${NAME} secrets).
	Env map[string]string
	// Dashboard turns the dashboard on with the emulated App's OAuth
	// credentials (a dashboard section is added to ServerYAML) and
	// registers hoist's sign-in callbacks with the App; people then sign
	// in with GitHub.SignedInClient(login).
	Dashboard bool
	// New builds the server from its configuration; nil is app.New, the
	// whole of hoist serve.
	New func(ctx context.Context, cfg *serverconfig.Server, opts server.Options) (*server.Server, error)
	// DataDir holds hoist's data and the server configuration file (empty:
	// a new temporary folder). Giving the same one again restarts hoist on
	// its data, as an operator would.
	DataDir string
}

// Start starts hoist as spec says, with its data in a temporary folder,
// and stops it when the test ends.
func Start(t testing.TB, spec Spec) *server.Server {
	t.Helper()
	srv, stop := Run(t, spec)
	t.Cleanup(stop)
	return srv
}

// Run starts hoist as spec says and returns it with the function that
// stops it (and waits until it has), for tests that stop hoist midway.
func Run(t testing.TB, spec Spec) (*server.Server, func()) {
	t.Helper()
	file, env := Settings(t, spec)
	cfg, err := serverconfig.LoadServer(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	Tune(cfg)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	build := spec.New
	if build == nil {
		build = app.New
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := build(ctx, cfg, server.Options{Logger: &log, Listener: spec.Listener,
		MetricsListener: spec.MetricsListener, PreviewListener: spec.PreviewListener})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	return srv, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hoist serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("hoist did not stop")
		}
	}
}

// Tune sets what tests change in every server configuration: a short job
// poll interval and a quicker write pace.
func Tune(cfg *serverconfig.Server) {
	cfg.Jobs.PollInterval = 50 * time.Millisecond
	// The emulator is not GitHub: unless the test sets a pace of its own,
	// writes leave at a twentieth of GitHub's advised interval, in the
	// same proportions, so that tests exercise the pace without waiting on it.
	if g := &cfg.GitHub; g.WriteInterval == serverconfig.DefaultGitHubWriteInterval && g.WritesPerMinute == serverconfig.DefaultGitHubWritesPerMinute {
		g.WriteInterval, g.WritesPerMinute = 50*time.Millisecond, 1220
	}
}

// Settings are the server configuration file (empty: none) and the
// HOIST_* settings that spec starts hoist with, for tests that start it
// as a process of its own.
func Settings(t testing.TB, spec Spec) (file string, env map[string]string) {
	t.Helper()
	url := "http://" + spec.Listener.Addr().String()
	dir := spec.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	env = map[string]string{
		"HOIST_ADDR": spec.Listener.Addr().String(), "HOIST_PUBLIC_URL": url, "HOIST_DATA_DIR": filepath.Join(dir, "data"),
		"HOIST_APP_ID": strconv.FormatInt(spec.App.ID, 10), "HOIST_PRIVATE_KEY": string(spec.App.PrivateKeyPEM),
		"HOIST_WEBHOOK_SECRET": spec.App.WebhookSecret, "HOIST_GITHUB_URL": spec.GitHub.URL() + "/", "HOIST_LOG_LEVEL": "warn",
	}
	if spec.MetricsListener != nil {
		env["HOIST_METRICS_ADDR"] = spec.MetricsListener.Addr().String()
	}
	if spec.PreviewListener != nil {
		env["HOIST_PREVIEW_ADDR"] = spec.PreviewListener.Addr().String()
	}
	for k, v := range spec.Env {
		env[k] = v
	}
	if spec.Dashboard {
		spec.ServerYAML += "dashboard:\n  client_id: " + spec.App.ClientID +
			"\n  client_secret: ${SERVETEST_CLIENT_SECRET}\n  session_key: ${SERVETEST_SESSION_KEY}\n"
		env["SERVETEST_CLIENT_SECRET"], env["SERVETEST_SESSION_KEY"] = spec.App.ClientSecret, "servetest-session-key-of-32-bytes!"
		callbacks := []string{url + "/login/callback"}
		if p := env["HOIST_PREVIEW_URL"]; p != "" {
			callbacks = append(callbacks, strings.TrimSuffix(p, "/")+"/login/callback")
		}
		spec.GitHub.SetCallbackURLs(spec.App.ID, callbacks...)
	}
	if spec.ServerYAML != "" {
		file = filepath.Join(dir, "hoist-server.yml")
		if err := os.WriteFile(file, []byte(spec.ServerYAML), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return file, env
}
