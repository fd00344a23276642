package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/verify"
)

// What post-deploy verification reports reaches the outcomes behind failure
// budgets (a failed check and its automatic rollback both count against the
// environment) and the alert webhook.
func TestVerificationReportsReachBudgetsAndAlerts(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	rec := safety.NewRecorder(safety.Deps{Store: s, Now: func() time.Time { return now }})
	out := verifyOutcomes{rec}
	at := now.Add(-time.Hour)
	for range 2 { // a retried job records nothing twice
		if err := out.Record(ctx, "acme/site", "production", verify.KindVerify, true, "a1", at); err != nil {
			t.Fatal(err)
		}
		if err := out.Record(ctx, "acme/site", "production", verify.KindVerify, false, "b2", at.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := out.Record(ctx, "acme/site", "production", verify.KindRollback, true, "b2", at.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	failures, samples, err := rec.BudgetCounts(ctx, "acme/site", "production", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if failures != 2 || samples != 3 {
		t.Fatalf("budget counts: %d failures of %d outcomes, want 2 of 3 (the failed check and the rollback)", failures, samples)
	}

	var mu sync.Mutex
	var texts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		texts = append(texts, body["text"])
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	alerts := verifyAlerts{log: verify.LogAlerter{Logger: zerolog.Nop()}, webhook: safety.NewWebhook(srv.URL, safety.WebhookOptions{})}
	for _, kind := range []string{verify.AlertVerifyFailed, verify.AlertRolledBack, verify.AlertRollbackFailed} {
		a := verify.Alert{Repo: "acme/site", Env: "production", Kind: kind, SHA: "b2", Summary: "summary of " + kind, URL: "https://example.com/check"}
		if err := alerts.Alert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(texts) != 3 {
		t.Fatalf("webhook got %d alerts, want 3: %q", len(texts), texts)
	}
	for i, kind := range []string{verify.AlertVerifyFailed, verify.AlertRolledBack, verify.AlertRollbackFailed} {
		if !strings.Contains(texts[i], "summary of "+kind) || !strings.Contains(texts[i], "acme/site") {
			t.Errorf("alert %d = %q, want the summary of %s and the repository", i, texts[i], kind)
		}
	}
	// Without a webhook, alerts are logged only.
	if err := (verifyAlerts{log: verify.LogAlerter{Logger: zerolog.Nop()}}).Alert(ctx, verify.Alert{Kind: verify.AlertHeld}); err != nil {
		t.Fatal(err)
	}
}
