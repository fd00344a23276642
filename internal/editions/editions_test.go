package editions_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/world"
)

// grace is the grace period of editionsYML: long enough for a branch to
// be deleted and pushed again on a busy machine.
const grace = 8 * time.Second

// editionsYML publishes feature/* and docs (and, by its glob, would main
// and staging, which are environments' branches and so never editions),
// and every pull request, under /v/<edition>/ of docs.example.com.
const editionsYML = `version: 1
site: { root: public }
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, deploy: { target: site, prefix: staging/ } }
  production: { branch: main, deploy: { target: site, prefix: production/ } }
editions:
  branches: [ "feature/*", "docs", "main", "staging" ]
  pull_requests: true
  target: site
  path: /v/{edition}/
  url: https://docs.example.com
  purge: [ { cdn: edge } ]
  grace: 8s
  names: [ { branch: feature/b, name: docs } ]
`

// TestBranchEdition: a push to a matching branch publishes it at its URL
// and records the deployment; a second push deploys the change and
// purges it; deleting the branch keeps the edition for the grace period,
// then removes its files, purges it and marks the deployment inactive. A
// branch deleted and pushed again within the grace period keeps its
// edition.
func TestBranchEdition(t *testing.T) {
	w := startEditions(t, editionsYML)
	// The environments' folders, as their deploys left them.
	w.put("acme/site/staging/index.html", "<h1>staging</h1>")
	w.put("acme/site/production/index.html", "<h1>production</h1>")

	name := config.RepoEditions{}.EditionOf("feature/a")
	env, prefix, page := "edition/"+name, "acme/site/v/"+name+"/", "/v/"+name+"/"
	w.Git(w.Work, "checkout", "-q", "-b", "feature/a")
	first := w.Commit("public/index.html", "<h1>feature a v1</h1>", "Feature A")
	w.Push("feature/a")
	dst := w.waitEdition(env, first, "success")
	if want := "https://docs.example.com/v/" + name + "/"; dst.GetEnvironmentURL() != want {
		t.Fatalf("environment URL %q, want %q", dst.GetEnvironmentURL(), want)
	}
	for range 2 {
		if code, body := w.get(page); code != 200 || body != "<h1>feature a v1</h1>" {
			t.Fatalf("GET %s: %d %q", page, code, body)
		}
	}

	second := w.Commit("public/index.html", "<h1>feature a v2</h1>", "Feature A v2")
	w.Push("feature/a")
	w.waitEdition(env, second, "success")
	if code, body := w.get(page); code != 200 || body != "<h1>feature a v2</h1>" {
		t.Fatalf("after the second push the edge serves %d %q, want v2 (purged)", code, body)
	}

	w.Git(w.Work, "push", "-q", "origin", "--delete", "feature/a")
	time.Sleep(time.Second)
	if keys := w.objects(prefix); len(keys) == 0 {
		t.Fatal("the edition was removed before its grace period ended")
	}
	w.waitGone(prefix)
	w.waitEdition(env, second, "inactive")
	if code, _ := w.get(page); code != 404 {
		t.Fatalf("the removed edition is %d at the edge, want 404 (purged)", code)
	}
	for _, k := range []string{"acme/site/staging/index.html", "acme/site/production/index.html"} {
		if len(w.objects(k)) != 1 {
			t.Fatalf("%s is gone with the edition", k)
		}
	}

	// Deleted and pushed again within the grace period: it stays.
	w.Git(w.Work, "checkout", "-q", "-b", "feature/c")
	third := w.Commit("public/index.html", "<h1>feature c</h1>", "Feature C")
	w.Push("feature/c")
	cname := config.RepoEditions{}.EditionOf("feature/c")
	w.waitEdition("edition/"+cname, third, "success")
	w.Git(w.Work, "push", "-q", "origin", "--delete", "feature/c")
	st := w.Srv.Store()
	var job int64
	if world.WaitFor(30*time.Second, func() bool {
		e, _, _ := st.EditionOf(context.Background(), "acme/site", "branch:feature/c")
		job = e.RemoveJob
		return job != 0
	}) != nil {
		t.Fatal("no removal was planned for feature/c")
	}
	w.Push("feature/c")
	// The push calls the planned removal off: its job is cancelled.
	if world.WaitFor(30*time.Second, func() bool {
		var state string
		err := st.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = ?`, job).Scan(&state)
		return err == nil && state == "cancelled"
	}) != nil {
		t.Fatalf("the removal job %d of feature/c was not cancelled", job)
	}
	time.Sleep(4 * time.Second)
	if code, body := w.get("/v/" + cname + "/"); code != 200 || body != "<h1>feature c</h1>" {
		t.Fatalf("an edition whose branch came back within the grace period: %d %q", code, body)
	}
	if len(w.objects("acme/site/v/"+cname+"/")) == 0 {
		t.Fatal("the files of an edition whose branch came back were removed")
	}
}

// TestPullRequestEdition: a pull request's edition appears at
// /v/pr-<n>/ with one comment giving its URL, follows its pushes (the
// comment is edited, never repeated), and goes when it is closed.
func TestPullRequestEdition(t *testing.T) {
	w := startEditions(t, editionsYML)
	ctx := context.Background()
	w.Git(w.Work, "checkout", "-q", "-b", "topic")
	first := w.Commit("public/index.html", "<h1>topic v1</h1>", "Topic")
	w.Push("topic")
	pr, _, err := w.Alice.PullRequests.Create(ctx, "acme", "site", &github.NewPullRequest{Title: github.String("Topic"),
		Head: github.String("topic"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	n := pr.GetNumber()
	name := config.PullEdition(n)
	env, page := "edition/"+name, "/v/"+name+"/"
	st := w.waitEdition(env, first, "success")
	url := "https://docs.example.com/v/" + name + "/"
	if st.GetEnvironmentURL() != url {
		t.Fatalf("environment URL %q, want %q", st.GetEnvironmentURL(), url)
	}
	if code, body := w.get(page); code != 200 || body != "<h1>topic v1</h1>" {
		t.Fatalf("GET %s: %d %q", page, code, body)
	}
	comments := func() []*github.IssueComment {
		cs, _, err := w.Alice.Issues.ListComments(ctx, "acme", "site", n, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []*github.IssueComment
		for _, c := range cs {
			if strings.Contains(c.GetBody(), "hoist:edition") {
				out = append(out, c)
			}
		}
		return out
	}
	if world.WaitFor(30*time.Second, func() bool { return len(comments()) == 1 }) != nil {
		t.Fatalf("comments: %d, want one", len(comments()))
	}
	if body := comments()[0].GetBody(); !strings.Contains(body, url) || !strings.Contains(body, first[:7]) {
		t.Fatalf("comment %q lacks the URL or the commit", body)
	}

	second := w.Commit("public/index.html", "<h1>topic v2</h1>", "Topic v2")
	w.Push("topic")
	w.waitEdition(env, second, "success")
	if code, body := w.get(page); body != "<h1>topic v2</h1>" {
		t.Fatalf("after the push: %d %q", code, body)
	}
	if world.WaitFor(30*time.Second, func() bool {
		cs := comments()
		return len(cs) == 1 && strings.Contains(cs[0].GetBody(), second[:7])
	}) != nil {
		t.Fatalf("comments after the push: %+v, want the one comment edited", comments())
	}

	if _, _, err := w.Alice.PullRequests.Edit(ctx, "acme", "site", n, &github.PullRequest{State: github.String("closed")}); err != nil {
		t.Fatal(err)
	}
	w.waitGone("acme/site/v/" + name + "/")
	w.waitEdition(env, second, "inactive")
	if code, _ := w.get(page); code != 404 {
		t.Fatalf("the closed pull request's edition is %d at the edge, want 404", code)
	}
	if world.WaitFor(30*time.Second, func() bool {
		cs := comments()
		return len(cs) == 1 && strings.Contains(cs[0].GetBody(), "removed")
	}) != nil {
		t.Fatalf("comments after closing: %+v", comments())
	}
}

// TestRenamedEdition: a name given to a branch's edition moves it on the
// branch's next push: the new folder is served, the old one is removed
// and purged and its deployment marked inactive.
func TestRenamedEdition(t *testing.T) {
	w := startEditions(t, editionsYML)
	old := config.RepoEditions{}.EditionOf("feature/r")
	w.Git(w.Work, "checkout", "-q", "-b", "feature/r")
	first := w.Commit("public/index.html", "<h1>r v1</h1>", "R")
	w.Push("feature/r")
	w.waitEdition("edition/"+old, first, "success")
	if code, _ := w.get("/v/" + old + "/"); code != 200 {
		t.Fatalf("GET /v/%s/: %d", old, code)
	}

	w.Git(w.Work, "checkout", "-q", "--detach", w.Head("main"))
	renamed := strings.Replace(editionsYML, "names: [ { branch: feature/b, name: docs } ]",
		`names: [ { branch: feature/b, name: docs }, { branch: feature/r, name: "r1" } ]`, 1)
	cfg := w.Commit(".github/hoist.yml", renamed, "Name the edition of feature/r")
	w.Push("main")
	w.ConfigRun(cfg)

	w.Git(w.Work, "checkout", "-q", "feature/r")
	second := w.Commit("public/index.html", "<h1>r v2</h1>", "R v2")
	w.Push("feature/r")
	st := w.waitEdition("edition/r1", second, "success")
	if st.GetEnvironmentURL() != "https://docs.example.com/v/r1/" {
		t.Fatalf("renamed edition's URL %q", st.GetEnvironmentURL())
	}
	if code, body := w.get("/v/r1/"); code != 200 || body != "<h1>r v2</h1>" {
		t.Fatalf("GET /v/r1/: %d %q", code, body)
	}
	w.waitGone("acme/site/v/" + old + "/")
	w.waitEdition("edition/"+old, first, "inactive")
	if code, _ := w.get("/v/" + old + "/"); code != 404 {
		t.Fatalf("the old name is %d at the edge, want 404 (purged)", code)
	}
}
