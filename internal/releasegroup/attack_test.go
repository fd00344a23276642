package releasegroup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/releasegroup"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// TestAnotherAccountCannotDragARepositoryIntoItsGroup: mallory installs
// the App too and declares a group of mallory/site with acme/site, and
// another attempt names the server's group web. Neither moves acme/site:
// the declared group is not in force (acme/site never declared it), so
// mallory's own promotion is refused and says so; the server's group does
// not list mallory/site, which hoist/config reports at its line and
// column. acme/site keeps promoting with its real group.
func TestAnotherAccountCannotDragARepositoryIntoItsGroup(t *testing.T) {
	p := startPair(t, nil)
	ctx := context.Background()
	token := p.GH.CreateUser("mallory")
	p.GH.CreateRepo("mallory", "site", token)
	p.GH.Install(p.App.ID, "mallory/site")
	evilYML := memberYML + "release_group: { name: heist, members: [mallory/site, acme/site], environments: [staging] }\n"
	evil := p.AddRepo("mallory/site", token, evilYML, "main", "dev", "staging")
	frontStaging := p.front.Head("staging")
	// acme/site has a candidate whose gates pass for nothing but the
	// group: the attack would need to move it.
	f1 := p.front.Commit("index.html", "<h1>acme</h1>", "Acme one")
	p.front.Push("dev")
	p.front.Status(f1, "success") // waits for acme/backend, which has nothing new: up to date

	e1 := evil.Commit("index.html", "<h1>evil</h1>", "Evil one")
	evil.Push("dev")
	evil.Status(e1, "success")
	run := evil.CheckRun(e1, releasegroup.CheckName)
	if run.GetConclusion() != "failure" || !strings.Contains(run.GetOutput().GetSummary(), "acme/site does not declare it") {
		t.Fatalf("mallory's %s: %s %s", releasegroup.CheckName, run.GetConclusion(), run.GetOutput().GetSummary())
	}
	if got := evil.Head("staging"); got == e1 {
		t.Fatal("mallory/site moved alone although its group is not in force")
	}
	// Nothing of the attack reached acme/site: no check run of the
	// heist group on its commits, and its staging moved only by its own
	// group (with acme/backend up to date, to f1).
	p.front.WaitAudit("staging", f1, "promoted")
	if got := p.front.Head("staging"); got != f1 || got == frontStaging {
		t.Fatalf("acme/site staging = %s, want %s", got, f1)
	}
	res, _, err := p.Alice.Checks.ListCheckRunsForRef(ctx, "acme", "site", f1, &github.ListCheckRunsOptions{CheckName: github.String(releasegroup.CheckName)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.CheckRuns {
		if strings.Contains(r.GetOutput().GetSummary(), "heist") || strings.Contains(r.GetOutput().GetSummary(), "mallory") {
			t.Fatalf("acme/site was told about mallory's group: %s", r.GetOutput().GetSummary())
		}
	}
	for _, e := range auditOf(t, p.Site, "acme/site", "release_group") {
		if strings.Contains(e, "heist") {
			t.Fatalf("acme/site's audit log has mallory's group: %s", e)
		}
	}

	// Naming the server's group is refused by hoist/config at the value.
	e2 := evil.Commit(".github/hoist.yml", memberYML+"release_group: web\n", "Join web")
	evil.Push("main")
	var cfgRun *github.CheckRun
	sitetest.Eventually(t, 30*time.Second, func() (bool, string) {
		res, _, err := evil.Client.Checks.ListCheckRunsForRef(ctx, "mallory", "site", e2, &github.ListCheckRunsOptions{CheckName: github.String(repoconfig.ConfigCheckName)})
		if err != nil || len(res.CheckRuns) == 0 || res.CheckRuns[0].GetStatus() != "completed" {
			return false, fmt.Sprintf("no completed hoist/config on %s (%v)", e2[:7], err)
		}
		cfgRun = res.CheckRuns[0]
		return true, ""
	})
	if s := cfgRun.GetOutput().GetSummary(); cfgRun.GetConclusion() != "failure" || !strings.Contains(s, ".github/hoist.yml:5:16") ||
		!strings.Contains(s, `the release group "web" of the server configuration does not list mallory/site`) {
		t.Fatalf("hoist/config of mallory/site: %s %s", cfgRun.GetConclusion(), s)
	}
}
