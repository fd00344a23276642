package publish_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"

	hoistapp "github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/publish"
	"github.com/hoist-dev/hoist/internal/purge"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// TestPromotionDeploysTheDiffAndPurgesVarnish: a promotion into staging
// deploys to a real S3-compatible server and purges two real Varnish
// nodes: only changed objects are written, the edge serves the old page
// until the purge and the new one after, a deleted page is 404, and a
// promotion of the same tree writes and purges nothing.
func TestPromotionDeploysTheDiffAndPurgesVarnish(t *testing.T) {
	endpoint, key, secret := testenv.VersityGW(t)
	counted := testenv.CountS3Writes(t, endpoint)
	proxy := counted.URL
	ctx := context.Background()
	tc := deploy.TargetConfig{Type: "s3", Bucket: "site", Endpoint: endpoint, PathStyle: true, AccessKeyID: key, SecretAccessKey: secret}
	direct, err := deploy.NewS3Target(ctx, tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	origin := sitetest.BucketOrigin(t, direct.Client(), "site", "acme/site/staging/")
	nodeA := testenv.Varnish(t, shippedVCL(), origin)
	nodeB := testenv.Varnish(t, shippedVCL(), origin)
	nodes := []string{nodeA, nodeB}

	serverYAML := fmt.Sprintf(`targets:
  site: { type: s3, bucket: site, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: "${S3_SECRET}", repos: [acme] }
cdns:
  edge: { type: varnish, nodes: [ "http://%s", "http://%s" ], repos: [acme/site] }
`, proxy, key, nodeA, nodeB)
	gate := newPurgeGate()
	w := sitetest.StartSiteWith(t, serverYAML, sitetest.DeployRepoYML, map[string]string{"S3_SECRET": secret}, func(h *hoistapp.Hooks) {
		h.PurgeOptions = []purge.Option{purge.WithHTTPClient(&http.Client{Transport: gate, Timeout: 30 * time.Second}),
			purge.WithRetry(purge.RetryPolicy{Attempts: 2, Base: 10 * time.Millisecond})}
	})

	// First deploy: every file is uploaded.
	w.Commit("public/css/site.css", "body { color: black }", "Style")
	w.Commit("public/about.html", "<h1>about v1</h1>", "About")
	w.Commit("public/old.html", "<h1>old v1</h1>", "Old page")
	first := w.Commit("public/index.html", "<h1>home v1</h1>", "Home")
	w.Promote()
	if _, sts := w.WaitDeployment("staging", first); sts[0].GetState() != "success" {
		t.Fatalf("first deploy: %+v", sts[0])
	}
	puts, _, _ := counted.Snapshot()
	if got := testenv.SiteObjects(puts); len(got) != 4 {
		t.Fatalf("first deploy wrote %v, want the 4 files", got)
	}
	// The edge caches every page.
	for _, n := range nodes {
		for _, p := range []string{"/", "/index.html", "/about.html", "/old.html", "/css/site.css"} {
			for i := 0; i < 2; i++ {
				if code, body := fetch(t, n, p); code != 200 || !strings.Contains(body, "v1") && !strings.Contains(body, "black") {
					t.Fatalf("GET %s on %s: %d %q", p, n, code, body)
				}
			}
		}
	}

	// Second: index.html changes, old.html goes; the purge waits at the gate.
	w.Commit("public/index.html", "<h1>home v2</h1>", "Home v2")
	w.Git(w.Work, "rm", "-q", "public/old.html")
	w.Git(w.Work, "commit", "-q", "-m", "Drop the old page")
	second := w.Git(w.Work, "rev-parse", "HEAD")
	puts0, _, deletes0 := counted.Snapshot()
	purges0 := gate.requests.Load()
	gate.close()
	w.Promote()
	select {
	case <-gate.waiting:
	case <-time.After(60 * time.Second):
		t.Fatal("no purge was sent after the deploy")
	}
	// Deployed, not yet purged: the bucket has v2, the edge still the old page.
	puts1, _, deletes1 := counted.Snapshot()
	if got := testenv.SiteObjects(puts1[len(puts0):]); len(got) != 1 || got[0] != "site/acme/site/staging/index.html" {
		t.Fatalf("second deploy wrote %v, want only site/acme/site/staging/index.html", got)
	}
	if deletes1-deletes0 != 1 {
		t.Fatalf("second deploy sent %d delete requests, want 1", deletes1-deletes0)
	}
	for _, n := range nodes {
		if _, body := fetch(t, n, "/"); body != "<h1>home v1</h1>" {
			t.Fatalf("before the purge %s served %q, want the cached v1", n, body)
		}
		if code, _ := fetch(t, n, "/old.html"); code != 200 {
			t.Fatalf("before the purge %s answered %d for the deleted page, want the cached 200", n, code)
		}
	}
	gate.release()
	dep, sts := w.WaitDeployment("staging", second)
	if sts[0].GetState() != "success" || sts[0].GetEnvironmentURL() != "https://staging.example.com/" || sts[0].GetLogURL() == "" {
		t.Fatalf("deployment status = %+v, want success with the environment URL and a log URL", sts[0])
	}
	if dep.GetSHA() != second || dep.GetEnvironment() != "staging" {
		t.Fatalf("deployment = %s of %s", dep.GetEnvironment(), dep.GetSHA())
	}
	for _, n := range nodes {
		for _, p := range []string{"/", "/index.html"} {
			if _, body := fetch(t, n, p); body != "<h1>home v2</h1>" {
				t.Fatalf("after the purge %s%s served %q, want v2", n, p, body)
			}
		}
		if code, _ := fetch(t, n, "/old.html"); code != 404 {
			t.Fatalf("after the purge the deleted page is %d on %s, want 404", code, n)
		}
		if _, body := fetch(t, n, "/about.html"); body != "<h1>about v1</h1>" {
			t.Fatalf("about.html: %q", body)
		}
	}
	// One request per node: index.html's and old.html's keys in one header.
	if got := gate.requests.Load() - purges0; got != 2 {
		t.Fatalf("%d purge requests, want 2 (one per node)", got)
	}
	// (A promotion may be evaluated twice at once, from the push and from
	// the status; the second deployment then finds the tree deployed, so
	// the run that deployed is looked up by its title.)
	summary := outputOf(t, w, second, "Deployed to staging")
	if !strings.Contains(summary, "Files uploaded: 1 · copied: 0 · deleted: 1") ||
		!strings.Contains(summary, "purge requests: 2") || !strings.Contains(summary, "edge: purged 2 keys in 2 requests on 2 nodes") {
		t.Fatalf("check run: %s", summary)
	}
	// Earlier deployments are inactive now.
	firstDep, firstSts := w.WaitDeployment("staging", first)
	if firstSts[0].GetState() != "inactive" {
		t.Fatalf("deployment %d of the first commit is %s, want inactive", firstDep.GetID(), firstSts[0].GetState())
	}

	// Third: a change outside the site root: same tree, nothing written or purged.
	third := w.Commit("README.md", "# the site", "Readme")
	puts2, copies2, deletes2 := counted.Snapshot()
	purges2 := gate.requests.Load()
	w.Promote()
	if _, sts := w.WaitDeployment("staging", third); sts[0].GetState() != "success" {
		t.Fatalf("same-tree deploy: %+v", sts[0])
	}
	puts3, copies3, deletes3 := counted.Snapshot()
	if len(puts3) != len(puts2) || len(copies3) != len(copies2) || deletes3 != deletes2 {
		t.Fatalf("same tree: %d puts, %d copies, %d deletes, want none", len(puts3)-len(puts2), len(copies3)-len(copies2), deletes3-deletes2)
	}
	if got := gate.requests.Load() - purges2; got != 0 {
		t.Fatalf("same tree: %d purge requests, want none", got)
	}
	if s := deployCheck(w, third).GetOutput().GetSummary(); !strings.Contains(s, "Files uploaded: 0 · copied: 0 · deleted: 0") || !strings.Contains(s, "purge requests: 0") {
		t.Fatalf("same-tree summary: %s", s)
	}

	// Fourth: the CDN is unreachable after the deploy. The deployment fails
	// visibly, the job is retried, and the retry (same tree by then) still
	// purges what the first attempt changed.
	gate.fail.Store(true)
	fourth := w.Commit("public/about.html", "<h1>about v2</h1>", "About v2")
	w.Promote()
	if desc := waitState(w, "staging", fourth, "failure"); !strings.Contains(desc, "attempt 1 of 5 failed, retrying") || !strings.Contains(desc, "purge failed") {
		t.Fatalf("failed purge: %q", desc)
	}
	if _, body := fetch(t, nodeA, "/about.html"); body != "<h1>about v1</h1>" {
		t.Fatalf("not purged yet, but the edge serves %q", body)
	}
	gate.fail.Store(false)
	waitState(w, "staging", fourth, "success")
	for _, n := range nodes {
		if _, body := fetch(t, n, "/about.html"); body != "<h1>about v2</h1>" {
			t.Fatalf("after the retried purge %s serves %q", n, body)
		}
	}

	// Fifth: two more promotions while a publish runs (held at its purge).
	// They wait for it; the older of the two is superseded and never
	// deployed, the newest is.
	gate.close()
	running := w.Commit("public/about.html", "<h1>about v3</h1>", "About v3")
	w.Promote()
	select {
	case <-gate.waiting:
	case <-time.After(60 * time.Second):
		t.Fatal("no purge was sent")
	}
	older := w.Commit("public/index.html", "<h1>home v3</h1>", "Home v3")
	w.Promote()
	newest := w.Commit("public/index.html", "<h1>home v4</h1>", "Home v4")
	w.Promote()
	time.Sleep(300 * time.Millisecond)
	if _, body := fetch(t, nodeA, "/"); body != "<h1>home v2</h1>" {
		t.Fatalf("a publish ran beside the running one: the edge serves %q", body)
	}
	gate.release()
	waitState(w, "staging", newest, "success")
	waitState(w, "staging", running, "inactive")
	// Its job wakes from waiting for the lease and ends it as superseded.
	var states []string
	superseded := false
	for deadline := time.Now().Add(20 * time.Second); !superseded && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		dep, _ := w.WaitDeployment("staging", older)
		sts, _, err := w.Alice.Repositories.ListDeploymentStatuses(ctx, "acme", "site", dep.GetID(), nil)
		if err != nil {
			t.Fatal(err)
		}
		states = states[:0]
		for _, st := range sts {
			states = append(states, st.GetState()+" "+st.GetDescription())
			superseded = superseded || strings.Contains(st.GetDescription(), "superseded")
			if st.GetState() == "in_progress" {
				t.Fatalf("the superseded deployment ran: %v", states)
			}
		}
	}
	if !superseded {
		t.Fatalf("older deployment statuses %v, want superseded", states)
	}
	for _, n := range nodes {
		if _, body := fetch(t, n, "/"); body != "<h1>home v4</h1>" {
			t.Fatalf("%s serves %q, want v4", n, body)
		}
	}
	runs, _, err := w.Alice.Checks.ListCheckRunsForRef(ctx, "acme", "site", older, &github.ListCheckRunsOptions{CheckName: github.String(publish.DeployCheckName)})
	if err != nil || runs.GetTotal() != 0 {
		t.Fatalf("the superseded commit was deployed: %d runs, %v", runs.GetTotal(), err)
	}
}

// TestDeployFailureFailsTheDeployment: an environment naming a target the
// server does not have gets a failed deployment that says so, and a failed
// hoist/deploy check run; nothing is retried.
func TestDeployFailureFailsTheDeployment(t *testing.T) {
	repoYML := strings.Replace(sitetest.DeployRepoYML, "target: site", "target: site-bucket", 1)
	w := sitetest.StartSiteWith(t, "cdns:\n  edge: { type: varnish, nodes: [ \"http://127.0.0.1:9\" ], repos: [acme] }\n", repoYML, nil, nil)
	sha := w.Commit("public/index.html", "<h1>home</h1>", "Home")
	w.Promote()
	_, sts := w.WaitDeployment("staging", sha)
	desc := sts[0].GetDescription()
	if sts[0].GetState() != "failure" || !strings.Contains(desc, `no deploy target named "site-bucket"`) || len([]rune(desc)) > 140 {
		t.Fatalf("deployment status = %s %q, want failure naming the target", sts[0].GetState(), desc)
	}
	run := deployCheck(w, sha)
	if run.GetConclusion() != "failure" || !strings.Contains(run.GetOutput().GetSummary(), `no deploy target named "site-bucket" in the server config (have: local)`) {
		t.Fatalf("check run %s: %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}
	// Ended, not retried: one failure status, one check run.
	time.Sleep(500 * time.Millisecond)
	_, again := w.WaitDeployment("staging", sha)
	failures := 0
	for _, s := range again {
		if s.GetState() == "failure" {
			failures++
		}
	}
	if failures != 1 {
		t.Fatalf("%d failure statuses, want 1: %+v", failures, again)
	}
	entries, err := w.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || (e.Action == "deploy" && e.Outcome == "failure" && e.SHA == sha)
	}
	if !found {
		t.Fatalf("no deploy failure in the audit log: %+v", entries)
	}
}

// TestPromotionCopiesFromTheSourceEdition: promoting staging into
// production on the same bucket copies every object server-side from the
// staging prefix; nothing is uploaded again.
func TestPromotionCopiesFromTheSourceEdition(t *testing.T) {
	endpoint, key, secret := testenv.VersityGW(t)
	counted := testenv.CountS3Writes(t, endpoint)
	proxy := counted.URL
	ctx := context.Background()
	direct, err := deploy.NewS3Target(ctx, deploy.TargetConfig{Type: "s3", Bucket: "site", Endpoint: endpoint, PathStyle: true,
		AccessKeyID: key, SecretAccessKey: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	serverYAML := fmt.Sprintf("targets:\n  site: { type: s3, bucket: site, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: %q, public_url: \"https://cdn.example.com/\", repos: [\"*\"] }\n",
		proxy, key, secret)
	repoYML := `version: 1
site: { root: public }
environments:
  dev:        { branch: dev }
  staging:    { branch: staging, promote_from: dev, auto: true, deploy: { target: site, prefix: staging/ }, gates: { checks: ["ci / test"] } }
  production: { branch: main, promote_from: staging, auto: true, deploy: { target: site, prefix: production/ }, gates: { checks: ["ci / test", "qa"] } }
`
	w := sitetest.StartSiteWith(t, serverYAML, repoYML, nil, nil)
	w.Commit("public/app.css", "body{}", "Style")
	sha := w.Commit("public/index.html", "<h1>home</h1>", "Home")
	w.Promote()
	if _, sts := w.WaitDeployment("staging", sha); sts[0].GetState() != "success" || sts[0].GetEnvironmentURL() != "https://cdn.example.com/acme/site/staging/" {
		t.Fatalf("staging: %+v", sts[0])
	}
	puts0, copies0, _ := counted.Snapshot()
	if _, _, err := w.Alice.Repositories.CreateStatus(ctx, "acme", "site", sha,
		&github.RepoStatus{State: github.String("success"), Context: github.String("qa")}); err != nil {
		t.Fatal(err)
	}
	w.WaitAudit("production", sha, "promoted")
	if _, sts := w.WaitDeployment("production", sha); sts[0].GetState() != "success" {
		t.Fatalf("production: %+v", sts[0])
	}
	puts1, copies1, _ := counted.Snapshot()
	if got := testenv.SiteObjects(puts1[len(puts0):]); len(got) != 0 {
		t.Fatalf("production uploaded %v, want everything copied", got)
	}
	if got := copies1[len(copies0):]; len(got) != 2 {
		t.Fatalf("production copied %v, want app.css and index.html", got)
	}
	if s := outputOf(t, w, sha, "Deployed to production"); !strings.Contains(s, "Files uploaded: 0 · copied: 2") {
		t.Fatalf("production check run: %s", s)
	}
	body, err := direct.Get(ctx, "acme/site/production/index.html")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	if string(b) != "<h1>home</h1>" {
		t.Fatalf("production/index.html = %q", b)
	}
}

// TestHostileTreeFailsTheDeploymentAndWritesNothing: a site with a
// symlink to /etc/passwd is refused before anything reaches the target (the
// embedded local folder), and the deployment fails saying why.
func TestHostileTreeFailsTheDeploymentAndWritesNothing(t *testing.T) {
	repoYML := strings.NewReplacer("target: site,", "target: local,", "             purge: [ { cdn: edge } ],\n", "").Replace(sitetest.DeployRepoYML)
	w := sitetest.StartSiteWith(t, "", repoYML, nil, nil)
	w.Commit("public/index.html", "<h1>home</h1>", "Home")
	if err := os.Symlink("/etc/passwd", filepath.Join(w.Work, "public", "passwd.html")); err != nil {
		t.Fatal(err)
	}
	w.Git(w.Work, "add", "-A")
	w.Git(w.Work, "commit", "-q", "-m", "Link")
	sha := w.Git(w.Work, "rev-parse", "HEAD")
	w.Promote()
	_, sts := w.WaitDeployment("staging", sha)
	if sts[0].GetState() != "failure" || !strings.Contains(sts[0].GetDescription(), `"passwd.html" is a symbolic link`) {
		t.Fatalf("deployment: %s %q", sts[0].GetState(), sts[0].GetDescription())
	}
	sites := filepath.Join(w.Srv.Config().DataDir, "sites")
	var files []string
	filepath.WalkDir(sites, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("a refused tree wrote %v", files)
	}
}
