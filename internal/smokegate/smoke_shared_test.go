package smokegate_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// On PostgreSQL with no artifact store configured, screenshots are kept in
// the database: one taken by either of two replicas, each with a data
// folder of its own, is served by both, and nothing is written to a folder.
func TestScreenshotsAreServedByEveryReplicaOnPostgreSQL(t *testing.T) {
	w := sitetest.StartSmokeServer(t, fmt.Sprintf(sitetest.CandidateYML, ""), "", map[string]string{"HOIST_DATABASE_URL": testenv.Postgres(t)})
	if dir := w.Srv.Config().Smoke.ArtifactsDir; dir != "" {
		t.Fatalf("smoke.artifacts_dir defaults to %q on PostgreSQL, want none (the database)", dir)
	}
	b := w.StartReplica()
	sha := w.Commit("public/about/index.html", `<!doctype html><title>About</title><h1>About the Shop</h1><p>Since 1999.</p>`, "Regenerate the site")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")
	runs := w.WaitSmoke(sha, 1)
	cr := runs[len(runs)-1]
	if cr.GetConclusion() != "success" {
		t.Fatalf("smoke run: %s %q", cr.GetConclusion(), cr.GetOutput().GetTitle())
	}
	state, ok := w.GH.CheckRunState(cr.GetID())
	if !ok || len(state.Output.Images) == 0 {
		t.Fatalf("no images on the check run: %+v", state.Output)
	}
	// Either replica may have run the smoke test; its URL is in the
	// image links. Each screenshot is fetched from both.
	replicas := []string{w.URL, b}
	taker := ""
	for _, img := range state.Output.Images {
		u := fmt.Sprint(img["image_url"])
		for _, r := range replicas {
			if strings.HasPrefix(u, r+"/artifacts/acme/site/") {
				taker = r
			}
		}
		if taker == "" {
			t.Fatalf("image URL %q is neither replica's", u)
		}
		for _, r := range replicas {
			other := r + strings.TrimPrefix(u, taker)
			resp, body := get(w, other)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
				t.Fatalf("GET %s: %d %s", other, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
	}
	t.Logf("%d screenshots taken by the replica at %s served by both", len(state.Output.Images), taker)
	if entries, err := os.ReadDir(filepath.Join(w.Srv.Config().DataDir, "artifacts")); err == nil && len(entries) > 0 {
		t.Errorf("screenshots written to the first replica's folder: %v", entries)
	}
	var n int
	if err := w.Srv.Store().QueryRow(t.Context(), `SELECT count(*) FROM smoke_artifacts`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("smoke_artifacts rows: %d %v", n, err)
	}
}
