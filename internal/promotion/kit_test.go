package promotion_test

// Helpers of this package's tests only; the test world is sitetest.Site.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"
	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/emulator/emulatortest"
	hoistapp "github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// start starts a site with sitetest.HoistYML, its capabilities built
// with setup.
func start(t *testing.T, setup ...func(*hoistapp.Hooks)) *sitetest.Site {
	return sitetest.StartSite(t, sitetest.SiteSpec{Setup: setup})
}

// personPromotesYML: staging is promoted by a person, so hoist keeps a
// promotion pull request dev → staging.
const personPromotesYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: false }
`

// pushDelivery waits for the push webhook of ref and returns its id.
func pushDelivery(t *testing.T, gh *emulatortest.Harness, ref string) string {
	t.Helper()
	return gh.WaitForDelivery(func(d emulator.Delivery) bool {
		var ev struct {
			Ref string `json:"ref"`
		}
		return d.Event == "push" && json.Unmarshal(d.Payload, &ev) == nil && ev.Ref == ref
	}).GUID
}

// handledOnce waits until hoist handled the delivery and checks it took
// one attempt: a failure would have left it queued for a retry.
func handledOnce(r *sitetest.Site, id string) {
	r.T.Helper()
	var d store.Delivery
	sitetest.Eventually(r.T, 30*time.Second, func() (bool, string) {
		var err error
		if d, err = r.Srv.Store().GetDelivery(context.Background(), id); err != nil {
			return false, err.Error()
		}
		return d.Status == store.StatusHandled, fmt.Sprintf("delivery %s is %s (attempt %d: %s)", id, d.Status, d.Attempts, d.Reason)
	})
	if d.Attempts != 1 {
		r.T.Errorf("delivery %s handled after %d attempts, want 1", id, d.Attempts)
	}
}

// startRig starts a site with hoistYML on main, dev and staging.
func startRig(t *testing.T, hoistYML string) *sitetest.Site {
	t.Helper()
	return startRigOn(t, hoistYML, "")
}

// startRigOn is startRig with hoist's database at databaseURL (empty:
// SQLite in the data folder); tweaks change the server configuration.
func startRigOn(t *testing.T, yml, databaseURL string, tweaks ...func(*serverconfig.Server)) *sitetest.Site {
	t.Helper()
	spec := sitetest.SiteSpec{Bare: true, Tweaks: tweaks}
	if databaseURL != "" {
		spec.Env = map[string]string{"HOIST_DATABASE_URL": databaseURL}
	}
	r := sitetest.StartSite(t, spec)
	r.Commit(".github/hoist.yml", yml, "Configure hoist")
	// One push for the three branches: with a gateless staging, a push of
	// dev alone would have hoist create staging before the test does.
	r.Git(r.Work, "push", "-q", "--atomic", "origin", "HEAD:main", "HEAD:dev", "HEAD:staging")
	return r
}

// openPulls lists the open pull requests head → base.
func openPulls(r *sitetest.Site, head, base string) []*github.PullRequest {
	r.T.Helper()
	prs, _, err := r.Alice.PullRequests.List(context.Background(), "acme", "site",
		&github.PullRequestListOptions{State: "open", Head: "acme:" + head, Base: base})
	if err != nil {
		r.T.Fatal(err)
	}
	return prs
}

func auditCount(r *sitetest.Site, env, sha, outcome string) int {
	r.T.Helper()
	entries, err := r.Srv.Store().AuditLog(context.Background(), "acme/site", 500)
	if err != nil {
		r.T.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Env == env && e.SHA == sha && e.Outcome == outcome {
			n++
		}
	}
	return n
}

func deployments(r *sitetest.Site, env, sha string) []*github.Deployment {
	r.T.Helper()
	deps, _, err := r.Alice.Repositories.ListDeployments(context.Background(), "acme", "site",
		&github.DeploymentsListOptions{Environment: env, SHA: sha})
	if err != nil {
		r.T.Fatal(err)
	}
	return deps
}

const manualProductionYML = `version: 1
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
  production: { branch: main, promote_from: staging, auto: false, gates: { approvals: 1 } }
`

// pushEvent is the part of a push payload the burst test reads.
type pushEvent struct {
	Ref    string `json:"ref"`
	Before string `json:"before"`
	After  string `json:"after"`
	Forced bool   `json:"forced"`
}

func webhooksTwice(t *testing.T, databaseURL string) {
	r := startRigOn(t, `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`, databaseURL)
	r.GH.SetFaults(emulator.Faults{WebhookDuplicateRate: 1})
	sha := r.Commit("public/index.html", "<h1>twice</h1>", "Once only")
	r.Push("dev")
	// Two success statuses (two deliveries), each sent twice with one
	// delivery id.
	r.Status(sha, "success")
	r.Status(sha, "success")
	r.WaitAudit("staging", sha, "promoted")
	time.Sleep(1500 * time.Millisecond)
	if n := auditCount(r, "staging", sha, "promoted"); n != 1 {
		t.Errorf("%d promotions of %s recorded, want 1", n, sha[:7])
	}
	if deps := deployments(r, "staging", sha); len(deps) != 1 {
		t.Errorf("%d deployments of staging at %s, want 1", len(deps), sha[:7])
	}
	var dups int
	if err := r.Srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM deliveries WHERE duplicates > 0`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups == 0 {
		t.Fatal("hoist saw no duplicated delivery; the test proves nothing")
	}
}

const goodYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`

func promotionScenarioRequests(t *testing.T, cacheMB int) emulator.RequestStats {
	var stats emulator.RequestStats
	t.Run(fmt.Sprintf("cache_mb=%d", cacheMB), func(t *testing.T) {
		r := startRigOn(t, manualProductionYML, "", func(cfg *serverconfig.Server) {
			if cacheMB != 0 {
				cfg.GitHub.CacheMB = cacheMB
			}
		})
		for i := 1; i <= 4; i++ {
			c := r.Commit("public/index.html", fmt.Sprintf("<h1>%d</h1>", i), fmt.Sprintf("Change %d", i))
			r.Push("dev")
			r.Status(c, "pending")
			r.Status(c, "success")
			r.WaitAudit("staging", c, "promoted")
			sitetest.Eventually(t, 20*time.Second, func() (bool, string) {
				prs := openPulls(r, "staging", "main")
				return len(prs) == 1 && strings.Contains(prs[0].GetBody(), c[:7]), "promotion pull request not up to date with " + c[:7]
			})
		}
		// Let the work the last events started finish.
		time.Sleep(time.Second)
		stats = r.GH.InstallationRequestStats(r.InstallationID)
	})
	return stats
}

// tenant is another account of the same emulator, with its own
// installation of the App and a working clone of its repository.
type tenant struct {
	w      *sitetest.Site
	owner  string
	name   string
	client *github.Client
	work   string
}

// addTenant creates the account owner, its repository owner/site, installs
// the App on it and pushes the configuration yml to branches.
func addTenant(w *sitetest.Site, owner, yml string, branches ...string) *tenant {
	w.T.Helper()
	token := w.GH.CreateUser(owner)
	w.GH.CreateRepo(owner, "site", token)
	w.GH.Install(w.App.ID, owner+"/site")
	tn := &tenant{w: w, owner: owner, name: "site", client: w.GH.Client(token), work: filepath.Join(w.T.TempDir(), owner)}
	w.Git("", "clone", "-q", w.GH.GitURL(owner+"/site", token), tn.work)
	w.Git(tn.work, "config", "user.email", owner+"@example.com")
	w.Git(tn.work, "config", "user.name", owner)
	tn.Commit(".github/hoist.yml", yml, "Configure hoist")
	for _, b := range branches {
		w.Git(tn.work, "push", "-q", "origin", "HEAD:"+b)
	}
	return tn
}

// Commit writes a file and commits every change of the tenant's clone.
func (tn *tenant) Commit(path, content, msg string) string {
	tn.w.T.Helper()
	return (&sitetest.Site{T: tn.w.T, Work: tn.work}).Commit(path, content, msg)
}

// Promote pushes HEAD to dev with a green check, which promotes it into
// staging.
func (tn *tenant) Promote() string {
	tn.w.T.Helper()
	sha := tn.w.Git(tn.work, "rev-parse", "HEAD")
	tn.w.Git(tn.work, "push", "-q", "origin", "HEAD:dev")
	if _, _, err := tn.client.Repositories.CreateStatus(context.Background(), tn.owner, tn.name, sha,
		&github.RepoStatus{State: github.String("success"), Context: github.String("ci / test")}); err != nil {
		tn.w.T.Fatal(err)
	}
	return sha
}

// finished is the final status of the newest deployment of env for sha.
func (tn *tenant) finished(env, sha string) *github.DeploymentStatus {
	tn.w.T.Helper()
	var st *github.DeploymentStatus
	sitetest.Eventually(tn.w.T, 60*time.Second, func() (bool, string) {
		ctx := context.Background()
		deps, _, err := tn.client.Repositories.ListDeployments(ctx, tn.owner, tn.name, &github.DeploymentsListOptions{Environment: env, SHA: sha})
		if err != nil || len(deps) == 0 {
			return false, fmt.Sprintf("no deployment of %s to %s of %s/%s (%v)", sha[:7], env, tn.owner, tn.name, err)
		}
		sts, _, err := tn.client.Repositories.ListDeploymentStatuses(ctx, tn.owner, tn.name, deps[0].GetID(), nil)
		if err != nil || len(sts) == 0 {
			return false, "no status yet"
		}
		st = sts[0]
		switch st.GetState() {
		case "success", "failure", "error", "inactive":
			return true, ""
		}
		return false, "status " + st.GetState()
	})
	return st
}

// ConfigRun waits for the completed hoist/config check run on sha.
func (tn *tenant) ConfigRun(sha string) *github.CheckRun {
	tn.w.T.Helper()
	var run *github.CheckRun
	sitetest.Eventually(tn.w.T, 30*time.Second, func() (bool, string) {
		res, _, err := tn.client.Checks.ListCheckRunsForRef(context.Background(), tn.owner, tn.name, sha,
			&github.ListCheckRunsOptions{CheckName: github.String(repoconfig.ConfigCheckName)})
		if err != nil || len(res.CheckRuns) == 0 {
			return false, fmt.Sprintf("no %s check run on %s (%v)", repoconfig.ConfigCheckName, sha[:7], err)
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed", "check run " + run.GetStatus()
	})
	return run
}

// bucketSnapshot is every object of the bucket with its content.
func bucketSnapshot(t *testing.T, client *s3.Client, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			g, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(g.Body)
			g.Body.Close()
			out[aws.ToString(o.Key)] = b
		}
	}
	return out
}

func keysOf(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// s3Bucket starts versitygw with a bucket and returns a direct client.
func s3Bucket(t *testing.T, bucket string) (endpoint, key, secret string, client *s3.Client) {
	t.Helper()
	endpoint, key, secret = testenv.VersityGW(t)
	ctx := context.Background()
	direct, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: bucket, Endpoint: endpoint, PathStyle: true,
		AccessKeyID: key, SecretAccessKey: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return endpoint, key, secret, direct.Client()
}
