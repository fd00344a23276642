package publish

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/gh"
	"github.com/hoist-dev/hoist/internal/pipeline"
	"github.com/hoist-dev/hoist/internal/purge"
)

// TestPurgeOfASubPathEnvironment: an environment whose URL is a sub-path of
// a shared host (https://docs.example.com/v/1.2/) purges that sub-path's
// URLs, not the host's root nor the edition's folder on the target.
func TestPurgeOfASubPathEnvironment(t *testing.T) {
	var mu sync.Mutex
	var files [][]string
	cf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Files []string `json:"files"`
		}
		if r.Method != http.MethodPost || r.URL.Path != "/client/v4/zones/z1/purge_cache" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		files = append(files, body.Files)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"success":true,"errors":[],"messages":[],"result":{"id":"p1"}}`))
	}))
	t.Cleanup(cf.Close)

	s := &Publisher{cfg: &serverconfig.Server{CDNs: purge.CDNs{{Name: "cf", Type: purge.Cloudflare, ZoneID: "z1", APIToken: "tok",
		BaseURL: cf.URL, SiteURL: "https://docs.example.com", Repos: []string{"acme/docs"}}}}}
	repo := gh.NewRepo(nil, "acme", "docs")
	env := pipeline.Environment{Name: "v1.2", URL: "https://docs.example.com/v/1.2/", Purge: []config.RepoPurge{{CDN: "cf"}}}
	res, err := s.Purge(context.Background(), repo, nil, env, PurgeRequest{Env: env.Name, Paths: []string{"/index.html"}, Actor: "alice"})
	if err != nil || res.Requests["cf"] != 1 {
		t.Fatalf("purge = %+v, %v", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"https://docs.example.com/v/1.2/index.html", "https://docs.example.com/v/1.2/"}
	if len(files) != 1 || !slices.Equal(files[0], want) {
		t.Fatalf("purged %v, want %v (the sub-path, never the host's root)", files, want)
	}
}
