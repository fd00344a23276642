package promotion_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hoist-dev/hoist/internal/deploy"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// TestAnotherAccountCannotUseATargetOrCDNItIsNotGiven is the attack of
// issue 12: a second account installs the App and its repository names the
// first account's target, with a prefix that points into the first
// account's folder, and the first account's CDN. Its hoist/config check run
// fails with each refusal at its file:line:col, no purge request reaches
// the CDN, and the first site is byte-for-byte unchanged.
func TestAnotherAccountCannotUseATargetOrCDNItIsNotGiven(t *testing.T) {
	endpoint, key, secret, client := s3Bucket(t, "site")
	var purges atomic.Int64
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		purges.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(cdn.Close)
	serverYAML := fmt.Sprintf(`targets:
  site: { type: s3, bucket: site, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: "${S3_SECRET}", repos: [acme] }
cdns:
  edge: { type: varnish, nodes: [ %q ], repos: [acme/site] }
`, endpoint, key, cdn.URL)
	w := sitetest.StartSiteWith(t, serverYAML, sitetest.DeployRepoYML, map[string]string{"S3_SECRET": secret}, nil)

	// acme's site is deployed and purged.
	w.Commit("public/about.html", "<h1>about acme</h1>", "About")
	first := w.Commit("public/index.html", "<h1>acme</h1>", "Home")
	w.Promote()
	if _, sts := w.WaitDeployment("staging", first); sts[0].GetState() != "success" {
		t.Fatalf("acme's deploy: %s %s", sts[0].GetState(), sts[0].GetDescription())
	}
	before := bucketSnapshot(t, client, "site")
	if string(before["acme/site/staging/index.html"]) != "<h1>acme</h1>" {
		t.Fatalf("acme's site is not at acme/site/staging/: %v", keysOf(before))
	}
	purgesBefore := purges.Load()
	if purgesBefore == 0 {
		t.Fatal("acme's deploy sent no purge: the stand-in would prove nothing")
	}

	// evil names acme's target with acme's folder as its prefix, and
	// acme's CDN.
	evilYML := `version: 1
site: { root: public }
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true,
             deploy: { target: site, prefix: acme/site/staging/ },
             purge: [ { cdn: edge, keys: [e-staging] } ],
             gates: { checks: ["ci / test"] } }
`
	evil := addTenant(w, "evil", evilYML, "main", "dev", "staging")
	run := evil.ConfigRun(evil.w.Git(evil.work, "rev-parse", "HEAD"))
	if run.GetConclusion() != "failure" {
		t.Fatalf("evil's hoist/config: %s %s", run.GetConclusion(), run.GetOutput().GetSummary())
	}
	anns, _, err := evil.client.Checks.ListCheckRunAnnotations(context.Background(), "evil", "site", run.GetID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"6:32": `deploy target "site" is not open to evil/site`,
		"7:30": `cdn "edge" is not open to evil/site`,
	}
	for _, a := range anns {
		at := fmt.Sprintf("%d:%d", a.GetStartLine(), a.GetStartColumn())
		if w, ok := want[at]; ok && a.GetPath() == ".github/hoist.yml" && strings.Contains(a.GetMessage(), w) {
			delete(want, at)
		}
	}
	if len(want) > 0 {
		var got []string
		for _, a := range anns {
			got = append(got, fmt.Sprintf("%s:%d:%d %s", a.GetPath(), a.GetStartLine(), a.GetStartColumn(), a.GetMessage()))
		}
		t.Fatalf("missing annotations %v; got %v", want, got)
	}
	if s := run.GetOutput().GetSummary(); !strings.Contains(s, ".github/hoist.yml:6:32") || !strings.Contains(s, "hoist does nothing in this repository") {
		t.Fatalf("summary: %s", s)
	}

	// The promotion it asks for never deploys or purges.
	evil.Commit("public/index.html", "<h1>defaced</h1>", "Deface")
	evil.Promote()
	time.Sleep(2 * time.Second) // the status and push events are handled meanwhile
	if deps, _, err := evil.client.Repositories.ListDeployments(context.Background(), "evil", "site", nil); err != nil || len(deps) != 0 {
		t.Fatalf("evil/site has deployments %v (%v)", deps, err)
	}
	if n := purges.Load(); n != purgesBefore {
		t.Fatalf("%d purge requests reached acme's CDN after evil's push", n-purgesBefore)
	}
	after := bucketSnapshot(t, client, "site")
	if len(after) != len(before) {
		t.Fatalf("bucket had %v, now %v", keysOf(before), keysOf(after))
	}
	for k, b := range before {
		if !bytes.Equal(after[k], b) {
			t.Fatalf("%s changed: %q → %q", k, b, after[k])
		}
	}

	// A prefix that climbs out of the repository's folder is refused by the
	// file's own validation, at its line and column.
	evil.Commit(".github/hoist.yml", strings.Replace(evilYML, "prefix: acme/site/staging/", "prefix: ../../acme/site/staging/", 1), "Climb")
	evil.w.Git(evil.work, "push", "-q", "origin", "HEAD:main")
	climb := evil.ConfigRun(evil.w.Git(evil.work, "rev-parse", "HEAD"))
	if climb.GetConclusion() != "failure" || !strings.Contains(climb.GetOutput().GetSummary(), ".github/hoist.yml:6:46") ||
		!strings.Contains(climb.GetOutput().GetSummary(), "must not contain a") {
		t.Fatalf("climbing prefix: %s %s", climb.GetConclusion(), climb.GetOutput().GetSummary())
	}
}

// TestTwoRepositoriesWithTheSameEnvironmentDeploySideBySide: two honest
// accounts with an environment called staging on the same shared target
// each get their own folder and their own surrogate keys; a deploy that
// deletes a page of one leaves the other's intact.
func TestTwoRepositoriesWithTheSameEnvironmentDeploySideBySide(t *testing.T) {
	endpoint, key, secret, client := s3Bucket(t, "shared")
	serverYAML := fmt.Sprintf(`targets:
  site: { type: s3, bucket: shared, endpoint: %q, path_style: true, access_key_id: %q, secret_access_key: "${S3_SECRET}", repos: ["*"] }
`, endpoint, key)
	yml := strings.Replace(sitetest.DeployRepoYML, "             purge: [ { cdn: edge } ],\n", "", 1)
	w := sitetest.StartSiteWith(t, serverYAML, yml, map[string]string{"S3_SECRET": secret}, nil)

	w.Commit("public/old.html", "<h1>acme old</h1>", "Old")
	a1 := w.Commit("public/index.html", "<h1>acme</h1>", "Home")
	w.Promote()
	if _, sts := w.WaitDeployment("staging", a1); sts[0].GetState() != "success" {
		t.Fatalf("acme: %s %s", sts[0].GetState(), sts[0].GetDescription())
	}
	globex := addTenant(w, "globex", yml, "main", "dev", "staging")
	globex.Commit("public/old.html", "<h1>globex old</h1>", "Old")
	g1 := globex.Commit("public/index.html", "<h1>globex</h1>", "Home")
	globex.Promote()
	if st := globex.finished("staging", g1); st.GetState() != "success" {
		t.Fatalf("globex: %s %s", st.GetState(), st.GetDescription())
	}

	// acme drops old.html: only its own copy goes.
	w.Git(w.Work, "rm", "-q", "public/old.html")
	w.Git(w.Work, "commit", "-q", "-m", "Drop the old page")
	a2 := w.Git(w.Work, "rev-parse", "HEAD")
	w.Promote()
	if _, sts := w.WaitDeployment("staging", a2); sts[0].GetState() != "success" {
		t.Fatalf("acme again: %s %s", sts[0].GetState(), sts[0].GetDescription())
	}
	objs := bucketSnapshot(t, client, "shared")
	for k, want := range map[string]string{
		"acme/site/staging/index.html":   "<h1>acme</h1>",
		"globex/site/staging/index.html": "<h1>globex</h1>",
		"globex/site/staging/old.html":   "<h1>globex old</h1>",
	} {
		if string(objs[k]) != want {
			t.Errorf("%s = %q, want %q (bucket: %v)", k, objs[k], want, keysOf(objs))
		}
	}
	if _, ok := objs["acme/site/staging/old.html"]; ok {
		t.Errorf("acme's old.html was not deleted")
	}
	// Their editions have keys of their own.
	keysOfObject := func(k string) string {
		h, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("shared"), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		return h.Metadata[deploy.MetaSurrogateKey]
	}
	ak, gk := keysOfObject("acme/site/staging/index.html"), keysOfObject("globex/site/staging/index.html")
	if ak == "" || ak == gk || strings.Contains(ak, deploy.EditionKey("staging")) {
		t.Errorf("surrogate keys: acme %q, globex %q", ak, gk)
	}
	for _, f := range strings.Fields(ak) {
		if strings.Contains(gk, f) {
			t.Errorf("acme and globex share the surrogate key %s", f)
		}
	}
}
