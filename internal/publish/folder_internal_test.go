package publish

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/gh"
)

// TestRemoveFolderStaysInsideTheRepository: a folder's removal deletes
// every object under it and nothing else, and refuses the repository's
// whole folder, another repository's folder, and prefixes that escape.
func TestRemoveFolderStaysInsideTheRepository(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"acme/site/v/a/index.html", "acme/site/v/a/css/x.css", "acme/site/v/ab/index.html",
		"acme/site/production/index.html", "acme/other/v/a/index.html"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := &Publisher{cfg: &serverconfig.Server{
		Targets: serverconfig.Targets{"site": {TargetConfig: deploy.TargetConfig{Type: "local", Dir: dir}, Repos: []string{"acme"}}},
	}}
	ctx := context.Background()
	repo := gh.NewRepo(nil, "acme", "site")
	f := Folder{Name: "edition/a", Target: "site"}
	for _, bad := range []string{"acme/site/", "acme/site", "acme/other/v/a/", "acme/site/../other/v/a/", "acme/site/v/%2e%2e/", "", "acme/sitex/v/a/"} {
		if _, err := s.RemoveFolder(ctx, repo, f, bad); err == nil || !IsPermanent(err) {
			t.Errorf("RemoveFolder(%q) = %v, want a permanent refusal", bad, err)
		}
	}
	res, err := s.RemoveFolder(ctx, repo, f, "acme/site/v/a/")
	if err != nil || res.Deleted != 2 {
		t.Fatalf("RemoveFolder = %+v, %v; want the 2 files of v/a/", res, err)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	if got := strings.Join(left, " "); got != "acme/other/v/a/index.html acme/site/production/index.html acme/site/v/ab/index.html" {
		t.Fatalf("left %s", got)
	}
}
