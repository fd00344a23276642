package smokegate

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/hoist-dev/hoist/internal/site"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/store"
)

// The dashboard's thumbnails of a smoke run are the images its check run
// shows, read back from the run's report (GitHub's API does not return
// them); a check run hoist did not post, or a run without a report, has
// none.
func TestSmokeImagesOfACheckRun(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(t.TempDir(), "hoist.db"), Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Gate{}
	s.store = st
	s.smoke.publicURL = "https://hoist.example"
	s.smoke.urls, err = site.NewURLSigner([]byte(strings.Repeat("k", 32)), time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	rep := &smoke.Report{Title: "1/2 pages OK", Conclusion: smoke.Failure, Pages: []smoke.PageResult{
		{Path: "/", Viewport: "desktop", Status: 200, Conclusion: smoke.Success, Screenshot: shotOf(1)},
		{Path: "/products/", Viewport: "desktop", Status: 200, Conclusion: smoke.Failure, Screenshot: shotOf(2),
			Findings: []smoke.Finding{{Kind: smoke.KindConsoleError, Fails: true, Message: "catalogue script"}}},
	}}
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.CreateSmokeRun(ctx, nil, store.SmokeRun{Repo: "acme/site", Env: "staging", SHA: strings.Repeat("ab", 20), Reason: "push", Actor: "hoist"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetSmokeCheckRun(ctx, run.ID, 77); err != nil {
		t.Fatal(err)
	}
	if imgs, err := s.SmokeImages(ctx, "acme/site", 77); err != nil || len(imgs) != 0 {
		t.Fatalf("a running check run: %v %v, want no images", imgs, err)
	}
	if err := st.FinishSmokeRun(ctx, run.ID, "failure", rep.Title, raw); err != nil {
		t.Fatal(err)
	}
	imgs, err := s.SmokeImages(ctx, "acme/site", 77)
	if err != nil {
		t.Fatal(err)
	}
	want := smokeImagesAt(rep, s.artifactURL("acme/site", "https://hoist.example"))
	if len(imgs) != 2 || len(want) != 2 || imgs[0] != want[0] || imgs[1] != want[1] {
		t.Fatalf("images %+v, want the check run's %+v", imgs, want)
	}
	if !strings.Contains(imgs[0].Alt, "/products/") || !strings.HasPrefix(imgs[0].ImageURL, "https://hoist.example/artifacts/acme/site/"+shotOf(2).SHA256+".png?exp=") {
		t.Errorf("first image %+v, want the failing page's screenshot", imgs[0])
	}
	for _, other := range []struct {
		repo string
		id   int64
	}{{"acme/site", 78}, {"acme/blog", 77}} {
		if imgs, err := s.SmokeImages(ctx, other.repo, other.id); err != nil || len(imgs) != 0 {
			t.Errorf("check run %d of %s: %v %v, want none", other.id, other.repo, imgs, err)
		}
	}
}
