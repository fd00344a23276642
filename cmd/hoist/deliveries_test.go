package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/hoisttest"
)

// `hoist deliveries recover` against the emulator, while nothing listens
// at the App's webhook URL: a dry run lists the missed deliveries, a run
// asks GitHub to redeliver each, a second run asks for none.
func TestDeliveriesRecover(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hook := "http://" + ln.Addr().String() + "/api/github/hook"
	ln.Close()
	w := hoisttest.Start(t, hoisttest.Spec{App: emulator.AppSpec{WebhookURL: hook}, Repos: []string{"site"}})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, _, err := w.User().Repositories.Dispatch(ctx, "acme", "site", github.DispatchRequestOptions{EventType: "missed"}); err != nil {
			t.Fatal(err)
		}
	}
	hoisttest.WaitFor(t, 30*time.Second, "every delivery tried", func() bool {
		ds := w.GitHub.Deliveries()
		for _, d := range ds {
			if !d.Done {
				return false
			}
		}
		return len(ds) == 4
	})
	dir := t.TempDir()
	key := filepath.Join(dir, "app.pem")
	if err := os.WriteFile(key, w.App.PrivateKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "hoist-server.yml")
	yml := fmt.Sprintf("public_url: http://127.0.0.1:1\ndata_dir: %s\nlogging: { level: warn }\ngithub:\n  url: %s/\n  app_id: %d\n  private_key_file: %s\n  webhook_secret: %s\n",
		filepath.Join(dir, "data"), w.GitHub.URL(), w.App.ID, key, w.App.WebhookSecret)
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := deliveriesMain(ctx, append([]string{"recover", "--config", cfg}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	redelivered := func() int {
		n := 0
		for _, d := range w.GitHub.Deliveries() {
			if d.Redelivery {
				n++
			}
		}
		return n
	}

	code, out := run("--dry-run", "--since", "1h")
	if code != 0 || !strings.Contains(out, "missed: 4") || !strings.Contains(out, "Would ask GitHub to redeliver (dry run):") ||
		strings.Count(out, "repository_dispatch.missed") != 3 || redelivered() != 0 {
		t.Fatalf("dry run: exit %d, %d redelivered:\n%s", code, redelivered(), out)
	}
	code, out = run("--max", "3")
	if code != 0 || !strings.Contains(out, "Asked GitHub to redeliver 3:") || !strings.Contains(out, "Left 1 for the next run") || redelivered() != 3 {
		t.Fatalf("run: exit %d, %d redelivered:\n%s", code, redelivered(), out)
	}
	code, out = run("--json")
	if code != 0 || !strings.Contains(out, `"asked_before": 3`) || strings.Count(out, `"guid"`) != 2 || redelivered() != 4 {
		t.Fatalf("second run: exit %d, %d redelivered:\n%s", code, redelivered(), out)
	}
	code, out = run()
	if code != 0 || !strings.Contains(out, "Nothing to redeliver.") || !strings.Contains(out, "asked for before: 4") || redelivered() != 4 {
		t.Fatalf("third run: exit %d, %d redelivered:\n%s", code, redelivered(), out)
	}
	if code, out := run("--since", "96h"); code != 2 || !strings.Contains(out, "GitHub keeps 3 days") {
		t.Errorf("--since 96h: exit %d: %s", code, out)
	}
	var out2, err2 bytes.Buffer
	if code := deliveriesMain(ctx, []string{"bogus"}, &out2, &err2); code != 2 || !strings.Contains(err2.String(), "usage: hoist deliveries recover") {
		t.Errorf("unknown verb: exit %d: %s", code, err2.String())
	}
}
