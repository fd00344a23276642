package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palantir/go-githubapp/githubapp"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/handlers"
	"github.com/hoist-dev/hoist/internal/hoisttest"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

func TestIntakeOfGitHubExamplesSQLite(t *testing.T) {
	intakeOfGitHubExamples(t, startServer(t, testConfig(t, nil), serverOptionsNone()))
}

func TestIntakeOfGitHubExamplesPostgres(t *testing.T) {
	dsn := testenv.Postgres(t)
	intakeOfGitHubExamples(t, startServer(t, testConfig(t, map[string]string{"HOIST_DATABASE_URL": dsn}), serverOptionsNone()))
}

// Every example payload GitHub published is accepted and persisted with its
// event and action; the handled events end handled, the two check_run
// examples with non-RFC 3339 timestamps end failed with the parse error,
// events hoist does not subscribe to end ignored, and the server keeps
// serving.
func intakeOfGitHubExamples(t *testing.T, srv *running) {
	dir := filepath.Join(testenv.SharedGitHubDir(t), "webhooks")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.json"))
	if len(files) < 70 {
		t.Fatalf("found %d examples", len(files))
	}
	type sent struct{ file, event, action, id string }
	var all []sent
	for i, f := range files {
		body, err := os.ReadFile(f)
		must(t, err)
		event := filepath.Base(filepath.Dir(f))
		var p struct {
			Action string `json:"action"`
		}
		_ = json.Unmarshal(body, &p)
		s := sent{file: filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f), event: event, action: p.Action, id: idOf(i)}
		if code := deliver(t, srv.URL, event, s.id, body); code != http.StatusAccepted {
			t.Fatalf("%s: status %d, want 202", s.file, code)
		}
		all = append(all, s)
	}
	ctx := context.Background()
	st := srv.Store()
	hoisttest.WaitFor(t, 60*time.Second, "every delivery finished", func() bool {
		c, err := st.DeliveryCounts(ctx)
		return err == nil && c[store.StatusQueued] == 0 && c[store.StatusHandled]+c[store.StatusFailed]+c[store.StatusIgnored] == len(all)
	})
	failed := 0
	for _, s := range all {
		d, err := st.GetDelivery(ctx, s.id)
		must(t, err)
		if d.Event != s.event || d.Action != s.action {
			t.Errorf("%s: stored event %q action %q, want %q %q", s.file, d.Event, d.Action, s.event, s.action)
		}
		raw, _ := os.ReadFile(filepath.Join(dir, s.file))
		if !bytes.Equal(d.Payload, raw) {
			t.Errorf("%s: stored payload differs from what was sent", s.file)
		}
		want := store.StatusHandled
		switch {
		case s.event == "deployment":
			want = store.StatusIgnored
		case s.event == "check_run" && strings.HasPrefix(filepath.Base(s.file), "rerequested"):
			want = store.StatusFailed
			failed++
			if !strings.Contains(d.Reason, "parse check_run payload") {
				t.Errorf("%s: failure reason %q does not say why", s.file, d.Reason)
			}
			if d.Attempts != 1 {
				t.Errorf("%s: %d attempts; a payload that cannot parse must not be retried", s.file, d.Attempts)
			}
		}
		if d.Status != want {
			t.Errorf("%s: status %s (%s), want %s", s.file, d.Status, d.Reason, want)
		}
	}
	if failed != 2 {
		t.Errorf("%d rerequested check_run examples, want 2", failed)
	}
	// Still serving after the failures.
	body := []byte(`{"ref":"refs/heads/dev","after":"abc","repository":{"full_name":"o/r"},"installation":{"id":5}}`)
	if code := deliver(t, srv.URL, "push", "after-failures", body); code != http.StatusAccepted {
		t.Fatalf("push after failures: %d", code)
	}
	hoisttest.WaitFor(t, 20*time.Second, "push after failures handled", func() bool {
		d, err := st.GetDelivery(ctx, "after-failures")
		return err == nil && d.Status == store.StatusHandled
	})
	d, _ := st.GetDelivery(ctx, "after-failures")
	if d.Repo != "o/r" || d.InstallationID != 5 {
		t.Errorf("indexed repo %q installation %d", d.Repo, d.InstallationID)
	}
}

func TestRejectedDeliveriesStoreNothing(t *testing.T) {
	srv := startServer(t, testConfig(t, nil), serverOptionsNone())
	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r"}}`)
	good := emulator.Sign(testSecret, body)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    []byte
		want    int
	}{
		{"wrong secret", map[string]string{"X-Hub-Signature-256": emulator.Sign("not the secret", body)}, body, 401},
		{"missing signature header", map[string]string{}, body, 401},
		{"sha1 only", map[string]string{"X-Hub-Signature": "sha1=0123456789abcdef0123456789abcdef01234567"}, body, 401},
		{"sha1 in the sha256 header", map[string]string{"X-Hub-Signature-256": "sha1=0123456789abcdef0123456789abcdef01234567"}, body, 401},
		{"truncated signature", map[string]string{"X-Hub-Signature-256": good[:len(good)-10]}, body, 401},
		{"signature of another body", map[string]string{"X-Hub-Signature-256": emulator.Sign(testSecret, []byte("{}"))}, body, 401},
		{"non-JSON body", map[string]string{"X-Hub-Signature-256": emulator.Sign(testSecret, []byte("ref=main"))}, []byte("ref=main"), 400},
		{"empty body", map[string]string{"X-Hub-Signature-256": emulator.Sign(testSecret, nil)}, nil, 400},
		{"empty body unsigned", map[string]string{}, nil, 401},
		{"missing delivery id", map[string]string{"X-Hub-Signature-256": good, "X-GitHub-Delivery": "-"}, body, 400},
		{"form-encoded", map[string]string{"X-Hub-Signature-256": good, "Content-Type": "application/x-www-form-urlencoded"}, body, 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "rejected-" + tc.name}
			for k, v := range tc.headers {
				h[k] = v
			}
			if h["X-GitHub-Delivery"] == "-" {
				delete(h, "X-GitHub-Delivery")
			}
			if code, msg := post(t, srv.URL, h, tc.body); code != tc.want {
				t.Errorf("status %d (%s), want %d", code, strings.TrimSpace(msg), tc.want)
			}
		})
	}
	t.Run("oversize body", func(t *testing.T) {
		big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 25<<20)...)
		big = append(big, `"}`...)
		code, _ := post(t, srv.URL, map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "big", "X-Hub-Signature-256": emulator.Sign(testSecret, big)}, big)
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", code)
		}
	})
	counts, err := srv.Store().DeliveryCounts(context.Background())
	must(t, err)
	if len(counts) != 0 {
		t.Fatalf("rejected deliveries were stored: %v", counts)
	}
	res, err := http.Get(srv.URL + "/metrics")
	must(t, err)
	defer res.Body.Close()
	metrics, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`hoist_deliveries_total{event="unverified",outcome="rejected",reason="bad_signature"} 4`,
		`hoist_deliveries_total{event="unverified",outcome="rejected",reason="missing_signature"} 3`,
		`hoist_deliveries_total{event="push",outcome="rejected",reason="invalid_json"} 2`,
		`hoist_deliveries_total{event="push",outcome="rejected",reason="missing_header"} 1`,
		`hoist_deliveries_total{event="unverified",outcome="rejected",reason="too_large"} 1`,
		`hoist_deliveries_total{event="unverified",outcome="rejected",reason="content_type"} 1`,
		`hoist_job_queue_depth 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// countingHandler counts how often it ran per delivery.
type countingHandler struct {
	event string
	runs  atomic.Int32
}

func (h *countingHandler) Handles() []string { return []string{h.event} }
func (h *countingHandler) Handle(context.Context, string, string, []byte) error {
	h.runs.Add(1)
	return nil
}

func TestRedeliveryIsHandledOnce(t *testing.T) {
	h := &countingHandler{event: "push"}
	opts := serverOptionsNone()
	// Before the built-in handlers, which would take push otherwise.
	opts.Handlers = append([]githubapp.EventHandler{h}, handlers.All(handlers.Deps{})...)
	srv := startServer(t, testConfig(t, nil), opts)
	body := []byte(`{"ref":"refs/heads/main"}`)
	if code := deliver(t, srv.URL, "push", "same-id", body); code != http.StatusAccepted {
		t.Fatalf("first delivery: %d", code)
	}
	ctx := context.Background()
	hoisttest.WaitFor(t, 10*time.Second, "handled", func() bool {
		d, err := srv.Store().GetDelivery(ctx, "same-id")
		return err == nil && d.Status == store.StatusHandled
	})
	for i := 0; i < 3; i++ {
		if code := deliver(t, srv.URL, "push", "same-id", body); code != http.StatusOK {
			t.Fatalf("redelivery: %d, want 200", code)
		}
	}
	// Redeliveries of an ignored event are recognised too.
	if code := deliver(t, srv.URL, "ping", "ping-1", []byte(`{"zen":"x"}`)); code != http.StatusAccepted {
		t.Fatalf("ping: %d", code)
	}
	if code := deliver(t, srv.URL, "ping", "ping-1", []byte(`{"zen":"x"}`)); code != http.StatusOK {
		t.Fatalf("ping redelivery: %d", code)
	}
	time.Sleep(300 * time.Millisecond) // give a wrongly queued second job the chance to run
	if n := h.runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	d, err := srv.Store().GetDelivery(ctx, "same-id")
	must(t, err)
	if d.Duplicates != 3 {
		t.Fatalf("duplicates %d, want 3", d.Duplicates)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	srv := startServer(t, testConfig(t, nil), serverOptionsNone())
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": `"workers":"ok"`, "/metrics": "hoist_job_queue_depth"} {
		res, err := http.Get(srv.URL + path)
		must(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %q, want 200 containing %q", path, res.StatusCode, b, want)
		}
	}
	res, err := http.Get(srv.URL + "/api/github/hook")
	must(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET hook: %d, want 405", res.StatusCode)
	}
}
