package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/world"
)

const testSecret = "It's a Secret to Everybody"

var testKeyPEM = func() []byte {
	key, err := world.NewAppKey()
	if err != nil {
		panic(err)
	}
	return key.PrivateKeyPEM
}()

// testConfig loads a configuration the way hoist serve does, from the
// environment alone.
func testConfig(t testing.TB, extra map[string]string) *serverconfig.Server {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(keyFile, testKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"HOIST_ADDR":             "127.0.0.1:0",
		"HOIST_PUBLIC_URL":       "http://127.0.0.1",
		"HOIST_DATA_DIR":         filepath.Join(dir, "data"),
		"HOIST_APP_ID":           "1",
		"HOIST_PRIVATE_KEY_FILE": keyFile,
		"HOIST_WEBHOOK_SECRET":   testSecret,
		"HOIST_GITHUB_URL":       "http://127.0.0.1:1/",
		"HOIST_LOG_LEVEL":        "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := serverconfig.LoadServer("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Jobs.PollInterval = 50 * time.Millisecond
	return cfg
}

type running struct {
	*server.Server
	URL string
}

// startServer runs a server on a loopback port until the test ends.
func startServer(t testing.TB, cfg *serverconfig.Server, opts server.Options) *running {
	t.Helper()
	if opts.Logger == nil {
		l := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
		opts.Logger = &l
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Errorf("server did not stop")
		}
	})
	r := &running{Server: srv, URL: "http://" + ln.Addr().String()}
	if err := world.WaitReady(r.URL, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	return r
}

// post sends a webhook; headers with an empty value are left out.
func post(t testing.TB, url string, headers map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+server.WebhookPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func deliver(t testing.TB, url, event, id string, body []byte) int {
	t.Helper()
	code, _ := post(t, url, map[string]string{
		"X-GitHub-Event": event, "X-GitHub-Delivery": id, "X-Hub-Signature-256": emulator.Sign(testSecret, body),
	}, body)
	return code
}

var errSlow = errors.New("slow")

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func idOf(i int) string { return fmt.Sprintf("delivery-%05d", i) }
