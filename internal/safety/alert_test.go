package safety_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/safety"
)

// receiver is a local Slack-compatible webhook: it records the texts it
// accepted and answers the statuses queued in fail first.
type receiver struct {
	mu    sync.Mutex
	texts []string
	fail  []int
	hits  int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hits++
	if req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "content type", http.StatusBadRequest)
		return
	}
	if len(r.fail) > 0 {
		code := r.fail[0]
		r.fail = r.fail[1:]
		w.WriteHeader(code)
		return
	}
	var body map[string]string
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil || len(body) != 1 {
		http.Error(w, "payload", http.StatusBadRequest)
		return
	}
	r.texts = append(r.texts, body["text"])
	_, _ = w.Write([]byte("ok"))
}

func TestWebhookPacesAndRetries(t *testing.T) {
	rcv := &receiver{fail: []int{503, 429}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	secretURL := srv.URL + "/services/T000/B000/SECRETTOKEN"
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	w := safety.NewWebhook(secretURL, safety.WebhookOptions{Pace: 10 * time.Minute, Backoff: time.Millisecond, Now: func() time.Time { return now }})
	ctx := context.Background()
	a := safety.Alert{Kind: safety.AlertBudgetExhausted, Repo: "acme/site", Env: "production", Text: "the failure budget is exhausted", URL: "https://hoist.example/acme/site"}

	// Two failed answers, then accepted on the third attempt.
	if err := w.Alert(ctx, a); err != nil {
		t.Fatal(err)
	}
	// Within the pace: held back, then counted in the next one.
	for i := 0; i < 3; i++ {
		if err := w.Alert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// Another environment is not paced by the first.
	if err := w.Alert(ctx, safety.Alert{Kind: safety.AlertRollback, Repo: "acme/site", Env: "staging", Text: "rolled back"}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Minute)
	if err := w.Alert(ctx, a); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	texts, hits := rcv.texts, rcv.hits
	rcv.mu.Unlock()
	want := []string{
		"hoist: acme/site production: the failure budget is exhausted https://hoist.example/acme/site",
		"hoist: acme/site staging: rolled back",
		"hoist: acme/site production: the failure budget is exhausted https://hoist.example/acme/site (3 similar alerts held back since the last one)",
	}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("texts:\n%s\nwant:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
	if hits != 5 {
		t.Errorf("%d requests, want 5 (2 retried + 3 sent)", hits)
	}

	// A receiver that keeps failing: the error says so without the URL.
	bad := &receiver{fail: []int{500, 500, 500}}
	srv2 := httptest.NewServer(bad)
	defer srv2.Close()
	w2 := safety.NewWebhook(srv2.URL+"/hooks/SECRETTOKEN", safety.WebhookOptions{Backoff: time.Millisecond})
	err := w2.Alert(ctx, a)
	if err == nil || !strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "SECRETTOKEN") {
		t.Errorf("error %v", err)
	}
	if bad.hits != 3 {
		t.Errorf("%d attempts, want 3", bad.hits)
	}
	// Nobody listening: a network error, still without the URL; a 4xx is
	// not retried.
	srv2.Close()
	if err := w2.Alert(ctx, safety.Alert{Kind: safety.AlertRollback, Repo: "x/y"}); err == nil || strings.Contains(err.Error(), "SECRETTOKEN") || strings.Contains(err.Error(), "/hooks/") {
		t.Errorf("network error %v", err)
	}
	if s := w2.String(); strings.Contains(s, "SECRET") {
		t.Errorf("String() = %q", s)
	}
	var off *safety.Webhook
	if err := off.Alert(ctx, a); err != nil || safety.NewWebhook("", safety.WebhookOptions{}) != nil {
		t.Error("alerts off should send nothing")
	}
}
