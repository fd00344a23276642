package gh

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/hoisttest"
)

// The installation client authenticates with a token that it fetched once
// with the app's JWT, sends hoist's user agent, and talks to the configured
// base URL.
func TestInstallationClientAgainstConfiguredBaseURL(t *testing.T) {
	pemKey := hoisttest.AppKey(t).PrivateKeyPEM
	var tokenCalls, apiCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.UserAgent(), "hoist/") {
			t.Errorf("user agent %q", r.UserAgent())
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v3/app/installations/77/access_tokens":
			tokenCalls.Add(1)
			if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ey") {
				t.Errorf("token request without an app JWT: %q", r.Header.Get("Authorization"))
			}
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"token":"ghs_installationtoken","expires_at":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`))
		case r.URL.Path == "/api/v3/repos/o/r":
			apiCalls.Add(1)
			if got := r.Header.Get("Authorization"); got != "token ghs_installationtoken" {
				t.Errorf("api request authorization %q", got)
			}
			w.Header().Set("X-Ratelimit-Remaining", "4999")
			_, _ = w.Write([]byte(`{"full_name":"o/r"}`))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()

	cfg := &serverconfig.Server{}
	cfg.GitHub.URL = srv.URL + "/api/v3/"
	cfg.GitHub.AppID = 1
	cfg.GitHub.PrivateKey = string(pemKey)
	cfg.GitHub.Timeout = 5 * time.Second
	cc, err := NewClientCreator(cfg, RateLimitOptions{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		client, err := cc.NewInstallationClient(77)
		if err != nil {
			t.Fatal(err)
		}
		repo, _, err := client.Repositories.Get(context.Background(), "o", "r")
		if err != nil {
			t.Fatal(err)
		}
		if repo.GetFullName() != "o/r" {
			t.Fatalf("repo %q", repo.GetFullName())
		}
	}
	if tokenCalls.Load() != 1 || apiCalls.Load() != 3 {
		t.Fatalf("%d token requests for %d API calls; the installation token must be cached", tokenCalls.Load(), apiCalls.Load())
	}
}
