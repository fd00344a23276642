package generate_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/generate"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/store"
)

// Generation reads the configuration in force as promotions do: a file
// with mistakes is refused while there is no good one before it, and
// leaves the last good one in force once there is.
func TestSettingsFollowTheLastGoodConfiguration(t *testing.T) {
	w := newWorld(t, "200ms")
	ctx := context.Background()
	zoe := w.gh.CreateUser("zoe")
	w.gh.CreateRepo("zoe", "docs", zoe)
	inst := w.gh.Install(w.app.ID, "zoe/docs")
	broken := "version: 1\nenvironments:\n  staging: { brnch: staging }\ngenerate: { dispatch_type: docs-changed, workflow: build.yml }\n"
	if _, _, err := w.gh.Client(zoe).Repositories.CreateFile(ctx, "zoe", "docs", config.RepoConfigPath,
		&github.RepositoryContentFileOptions{Message: github.String("Configure hoist"), Content: []byte(broken)}); err != nil {
		t.Fatal(err)
	}
	settings := generate.RepoConfigSettings(generate.ClientRepos(w.cc), repoconfig.New(repoconfig.Deps{Clients: w.cc, Store: w.st}))

	if _, err := settings(ctx, inst, "zoe", "docs"); !errors.Is(err, generate.ErrBadConfig) || !strings.Contains(err.Error(), "brnch") {
		t.Fatalf("broken with nothing good before it: %v, want ErrBadConfig naming the key", err)
	}

	good := "version: 1\nenvironments:\n  staging: { branch: staging }\ngenerate: { dispatch_type: docs-changed, workflow: build.yml }\n"
	if err := w.st.SaveRepoConfig(ctx, store.RepoConfig{Repo: "zoe/docs", SHA: strings.Repeat("c", 40), Content: []byte(good)}); err != nil {
		t.Fatal(err)
	}
	s, err := settings(ctx, inst, "zoe", "docs")
	if err != nil || s.DispatchType != "docs-changed" || s.Workflow != "build.yml" {
		t.Fatalf("broken after a good one: %+v, %v; want the last good generate section", s, err)
	}
}
