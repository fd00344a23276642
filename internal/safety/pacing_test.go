package safety_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// Two replicas are two stores opened on one database, each with its own
// Webhook: the alerts both raise are sent once per pace.
func TestSharedPacingSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hoist.db")
	exerciseSharedPacing(t, func() *store.Store {
		s, err := store.Open(context.Background(), store.Options{SQLitePath: path, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

func TestSharedPacingPostgres(t *testing.T) {
	url := testenv.Postgres(t)
	exerciseSharedPacing(t, func() *store.Store {
		s, err := store.Open(context.Background(), store.Options{DatabaseURL: url, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

func exerciseSharedPacing(t *testing.T, open func() *store.Store) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	var mu sync.Mutex
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	replicas := make([]*safety.Webhook, 2)
	for i := range replicas {
		replicas[i] = safety.NewWebhook(srv.URL+"/hook", safety.WebhookOptions{Pace: 10 * time.Minute, Now: clock,
			Pacer: safety.StorePacer{Store: open()}})
	}
	ctx := context.Background()
	a := safety.Alert{Kind: safety.AlertVerifyFailed, Repo: "acme/site", Env: "production", Text: "verification failed"}

	// Both replicas hear of the same failure, several times each, at once.
	var wg sync.WaitGroup
	for _, w := range replicas {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := w.Alert(ctx, a); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	// Another environment is paced apart.
	if err := replicas[1].Alert(ctx, safety.Alert{Kind: safety.AlertVerifyFailed, Repo: "acme/site", Env: "staging", Text: "verification failed"}); err != nil {
		t.Fatal(err)
	}
	// After the pace, the other replica sends, counting all held back.
	mu.Lock()
	now = now.Add(11 * time.Minute)
	mu.Unlock()
	if err := replicas[1].Alert(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := replicas[0].Alert(ctx, a); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	texts := append([]string(nil), rcv.texts...)
	rcv.mu.Unlock()
	want := []string{
		"hoist: acme/site production: verification failed",
		"hoist: acme/site staging: verification failed",
		"hoist: acme/site production: verification failed (5 similar alerts held back since the last one)",
	}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\nwant:\n%s", strings.Join(texts, "\n"), strings.Join(want, "\n"))
	}
}
