package repoconfig_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

func TestOwnerDefaultConfigPromotesARepositoryWithoutItsOwn(t *testing.T) {
	r := startOwnerRig(t, ownerDefaultYML)
	orgHead := r.org.Git(r.org.Work, "rev-parse", "HEAD")

	// The hoist/config check of the site's default branch says which
	// configuration is in force and where it came from.
	run := r.ConfigRun(r.Head("main"))
	if run.GetConclusion() != "success" || !strings.Contains(run.GetOutput().GetSummary(), "acme/.github") ||
		!strings.Contains(run.GetOutput().GetSummary(), orgHead[:7]) {
		t.Fatalf("hoist/config on main: %s: %s\n%s", run.GetConclusion(), run.GetOutput().GetTitle(), run.GetOutput().GetSummary())
	}

	// Promoted by the organization's rules.
	sha := r.Commit("public/index.html", "<h1>v2</h1>", "Second page")
	r.Push("dev")
	r.Status(sha, "success")
	r.WaitAudit("staging", sha, "promoted")
	if got := r.Head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got[:7], sha[:7])
	}

	// Another evaluation under the same commits reads no configuration
	// again: a red build is refused without a contents request.
	before := r.reads.Load()
	red := r.Commit("public/index.html", "<h1>red</h1>", "Red build")
	r.Push("dev")
	r.Status(red, "failure")
	r.WaitAudit("staging", red, "refuse")
	if n := r.reads.Load() - before; n != 0 {
		t.Errorf("%d contents requests while neither default branch moved, want none", n)
	}
}

func TestOwnConfigReplacesTheOwnerDefaultOnceItIsPushed(t *testing.T) {
	r := startOwnerRig(t, ownerDefaultYML)
	r.ConfigRun(r.Head("main")) // the first push has been handled

	// The site gets a file of its own on its default branch: from now on
	// staging wants "ci / own", and "ci / test" alone no longer promotes.
	own := r.Commit(".github/hoist.yml", ownConfigYML, "Configure hoist for the site")
	r.Push("main")
	if run := r.ConfigRun(own); run.GetConclusion() != "success" || !strings.Contains(run.GetOutput().GetSummary(), "acme/site") {
		t.Fatalf("hoist/config on the site's own file: %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}
	sha := r.Commit("public/index.html", "<h1>v2</h1>", "Second page")
	r.Push("dev")
	r.Status(sha, "success") // "ci / test": the organization's gate
	time.Sleep(500 * time.Millisecond)
	if got := r.Head("staging"); got == sha {
		t.Fatal("staging was promoted by the organization's gate although the site has its own configuration")
	}
	_, _, err := r.Alice.Repositories.CreateStatus(context.Background(), "acme", "site", sha,
		&github.RepoStatus{State: github.String("success"), Context: github.String("ci / own")})
	if err != nil {
		t.Fatal(err)
	}
	r.WaitAudit("staging", sha, "promoted")
	if got := r.Head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got[:7], sha[:7])
	}
}

func TestBrokenOwnerDefaultIsReportedOnTheRepositorysCheck(t *testing.T) {
	r := startOwnerRig(t, sitetest.BrokenYML)
	_, perr := config.LoadRepoConfig("acme/.github/"+config.RepoConfigPath, []byte(sitetest.BrokenYML))
	var errs config.RepoConfigErrors
	if !errors.As(perr, &errs) || len(errs) != 1 {
		t.Fatalf("the broken file should have one mistake: %v", perr)
	}
	run := r.ConfigRun(r.Head("main"))
	summary := run.GetOutput().GetSummary()
	if run.GetConclusion() != "failure" || !strings.Contains(summary, fmt.Sprintf("%s:%d:%d", errs[0].File, errs[0].Line, errs[0].Column)) ||
		!strings.Contains(summary, "owner's default") {
		t.Fatalf("hoist/config with a broken owner default: %s\n%s", run.GetConclusion(), summary)
	}
	// The file is not the repository's: no annotation points into it.
	anns, _, err := r.Alice.Checks.ListCheckRunAnnotations(context.Background(), "acme", "site", run.GetID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(anns) != 0 {
		t.Errorf("%d annotations on a file of another repository, want none", len(anns))
	}
}
