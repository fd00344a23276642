package emulator_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hoist-dev/hoist/emulator"
)

const zero = "0000000000000000000000000000000000000000"

func pushOf(ref string) func(emulator.Delivery) bool {
	return func(d emulator.Delivery) bool {
		var p struct {
			Ref string `json:"ref"`
		}
		d.Decode(&p)
		return d.Event == "push" && p.Ref == ref
	}
}

func TestPushSendsWebhooksAndRESTReadsTheSameRepository(t *testing.T) {
	e := newEnv(t)
	w := clone(t, e.gh.GitURL("acme/site", e.alice))
	first := w.commit("first", map[string]string{"public/index.html": "<h1>Shop</h1>\n", "README.md": "# site\n"})
	second := w.commit("second", map[string]string{"public/about.html": "about\n"})
	w.git("push", "-q", "origin", "HEAD:main")

	d := e.gh.WaitForDelivery(pushOf("refs/heads/main"))
	var push struct {
		Ref, Before, After       string
		Created, Deleted, Forced bool
		Commits                  []struct {
			ID    string
			Added []string
		}
		HeadCommit   struct{ ID string } `json:"head_commit"`
		Sender       struct{ Login string }
		Installation struct{ ID int64 }
		Repository   struct {
			FullName string `json:"full_name"`
		}
	}
	if err := d.Decode(&push); err != nil {
		t.Fatal(err)
	}
	if push.Before != zero || push.After != second || !push.Created || push.Deleted || push.Forced {
		t.Errorf("push = %+v", push)
	}
	if len(push.Commits) != 2 || push.Commits[0].ID != first || push.Commits[1].ID != second || push.HeadCommit.ID != second {
		t.Errorf("commits = %+v head %s", push.Commits, push.HeadCommit.ID)
	}
	if push.Sender.Login != "alice" || push.Installation.ID != e.inst || push.Repository.FullName != "acme/site" {
		t.Errorf("sender %q installation %d repo %q", push.Sender.Login, push.Installation.ID, push.Repository.FullName)
	}
	if d.StatusCode != 200 || d.RequestHeader["X-GitHub-Event"] != "push" {
		t.Errorf("delivery %d %v", d.StatusCode, d.RequestHeader)
	}
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "create" })
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "check_suite" && d.Action == "requested" })

	// REST reads the same objects git wrote.
	ref := e.json(e.alice, "GET", "/repos/acme/site/git/ref/heads/main", nil, 200)
	if get(ref, "object", "sha") != second {
		t.Errorf("ref = %v", ref)
	}
	cm := e.json(e.alice, "GET", "/repos/acme/site/commits/main", nil, 200)
	if get(cm, "sha") != second || get(cm, "files", 0, "filename") != "public/about.html" {
		t.Errorf("commit = %v", cm)
	}
	gc := e.json(e.alice, "GET", "/repos/acme/site/git/commits/"+second, nil, 200)
	tree := e.json(e.alice, "GET", "/repos/acme/site/git/trees/"+get(gc, "tree", "sha").(string)+"?recursive=1", nil, 200)
	if n := len(get(tree, "tree").([]any)); n != 4 {
		t.Errorf("recursive tree has %d entries, want 4 (README, public, 2 files)", n)
	}
	file := e.json(e.alice, "GET", "/repos/acme/site/contents/public/index.html", nil, 200)
	blob := e.json(e.alice, "GET", "/repos/acme/site/git/blobs/"+get(file, "sha").(string), nil, 200)
	if get(blob, "content") != get(file, "content") {
		t.Errorf("blob %v vs file %v", blob, file)
	}
	e.json(e.alice, "GET", "/repos/acme/site/contents/public", nil, 200)
	if root := e.json(e.alice, "GET", "/repos/acme/site/contents/", nil, 200); len(root.([]any)) != 2 {
		t.Errorf("root folder = %v", root)
	}
	e.json(e.alice, "GET", "/repos/acme/site/readme", nil, 200)
	list := e.json(e.alice, "GET", "/repos/acme/site/commits?per_page=1", nil, 200)
	if len(list.([]any)) != 1 {
		t.Errorf("per_page=1 gave %v", list)
	}
	_, hdr, _ := e.do(e.alice, "GET", "/repos/acme/site/commits?per_page=1", nil)
	if link := hdr.Get("Link"); !strings.Contains(link, `page=2&per_page=1>; rel="next"`) || !strings.Contains(link, `rel="last"`) {
		t.Errorf("Link = %q", link)
	}
	e.json(e.alice, "GET", "/repos/acme/site", nil, 200)
	e.json(e.alice, "GET", "/repos/acme/site/branches", nil, 200)
	e.json(e.alice, "GET", "/repos/acme/site/branches/main", nil, 200)

	// A feature branch with a slash, a tag, and a force push.
	w.git("checkout", "-q", "-b", "feature/x")
	third := w.commit("third", map[string]string{"public/new.html": "new\n"})
	w.git("tag", "web-1")
	w.git("push", "-q", "origin", "feature/x", "web-1")
	e.gh.WaitForDelivery(pushOf("refs/heads/feature/x"))
	e.gh.WaitForDelivery(pushOf("refs/tags/web-1"))
	if got := get(e.json(e.alice, "GET", "/repos/acme/site/git/ref/heads/feature/x", nil, 200), "object", "sha"); got != third {
		t.Errorf("feature/x = %v", got)
	}
	e.json(e.alice, "GET", "/repos/acme/site/branches/feature/x", nil, 200)
	refs := e.json(e.alice, "GET", "/repos/acme/site/git/matching-refs/heads/feature", nil, 200)
	if len(refs.([]any)) != 1 {
		t.Errorf("matching refs = %v", refs)
	}
	e.json(e.alice, "GET", "/repos/acme/site/tags", nil, 200)
	cmp := e.json(e.alice, "GET", "/repos/acme/site/compare/main...feature/x", nil, 200)
	if get(cmp, "status") != "ahead" || get(cmp, "ahead_by") != 1.0 || get(cmp, "files", 0, "filename") != "public/new.html" {
		t.Errorf("compare = status %v ahead %v", get(cmp, "status"), get(cmp, "ahead_by"))
	}

	w.git("reset", "-q", "--hard", second)
	forced := w.commit("rewritten", map[string]string{"public/other.html": "x\n"})
	w.git("push", "-q", "--force", "origin", "feature/x")
	d = e.gh.WaitForDelivery(func(d emulator.Delivery) bool {
		var p struct{ After string }
		d.Decode(&p)
		return d.Event == "push" && p.After == forced
	})
	var fp struct {
		Forced bool
		Before string
	}
	d.Decode(&fp)
	if !fp.Forced || fp.Before != third {
		t.Errorf("force push = %+v", fp)
	}

	// Deleting a branch by push sends delete and push with deleted.
	w.git("push", "-q", "origin", ":feature/x")
	e.gh.WaitForDelivery(func(d emulator.Delivery) bool { return d.Event == "delete" })
	d = e.gh.WaitForDelivery(func(d emulator.Delivery) bool {
		var p struct {
			Deleted bool
			Ref     string
		}
		d.Decode(&p)
		return d.Event == "push" && p.Deleted && p.Ref == "refs/heads/feature/x"
	})
	e.json(e.alice, "GET", "/repos/acme/site/git/ref/heads/feature/x", nil, 404)
}

func TestRefUpdatesAreCompareAndSwap(t *testing.T) {
	e := newEnv(t)
	w := clone(t, e.gh.GitURL("acme/site", e.alice))
	a := w.commit("a", map[string]string{"f": "1"})
	b := w.commit("b", map[string]string{"f": "2"})
	w.git("push", "-q", "origin", "HEAD:main")
	w.git("reset", "-q", "--hard", a)
	c := w.commit("c", map[string]string{"g": "3"})
	w.git("push", "-q", "origin", "HEAD:refs/heads/side")

	// Create, fast-forward, refuse non-fast-forward, force, delete.
	e.json(e.alice, "POST", "/repos/acme/site/git/refs", map[string]any{"ref": "refs/heads/staging", "sha": a}, 201)
	status, _, body := e.do(e.alice, "POST", "/repos/acme/site/git/refs", map[string]any{"ref": "refs/heads/staging", "sha": a})
	if status != 422 || !strings.Contains(string(body), "Reference already exists") {
		t.Errorf("duplicate create: %d %s", status, body)
	}
	e.json(e.alice, "PATCH", "/repos/acme/site/git/refs/heads/staging", map[string]any{"sha": b, "force": false}, 200)
	status, _, body = e.do(e.alice, "PATCH", "/repos/acme/site/git/refs/heads/staging", map[string]any{"sha": c, "force": false})
	if status != 422 || !strings.Contains(string(body), `"message":"Update is not a fast forward"`) || !strings.Contains(string(body), "documentation_url") {
		t.Errorf("non-fast-forward: %d %s", status, body)
	}
	if got := get(e.json(e.alice, "GET", "/repos/acme/site/git/ref/heads/staging", nil, 200), "object", "sha"); got != b {
		t.Errorf("staging moved to %v after a refused update", got)
	}
	e.json(e.alice, "PATCH", "/repos/acme/site/git/refs/heads/staging", map[string]any{"sha": c, "force": true}, 200)
	d := e.gh.WaitForDelivery(func(d emulator.Delivery) bool {
		var p struct {
			Ref, After string
			Forced     bool
		}
		d.Decode(&p)
		return d.Event == "push" && p.Ref == "refs/heads/staging" && p.After == c
	})
	var p struct{ Forced bool }
	d.Decode(&p)
	if !p.Forced {
		t.Error("forced update not marked forced")
	}
	e.json(e.alice, "DELETE", "/repos/acme/site/git/refs/heads/staging", nil, 204)
	status, _, _ = e.do(e.alice, "DELETE", "/repos/acme/site/git/refs/heads/staging", nil)
	if status != 422 {
		t.Errorf("delete missing ref: %d", status)
	}
	status, _, _ = e.do(e.alice, "POST", "/repos/acme/site/git/refs", map[string]any{"ref": "refs/heads/x", "sha": strings.Repeat("1", 40)})
	if status != 422 {
		t.Errorf("create to missing object: %d", status)
	}
	status, _, body = e.do(e.alice, "PATCH", "/repos/acme/site/git/refs/heads/main", map[string]any{"sha": 12})
	if status != 422 || !strings.Contains(string(body), `For 'properties/sha', number is not a string.`) {
		t.Errorf("wrong type: %d %s", status, body)
	}
	req, _ := http.NewRequest("PATCH", e.gh.URL()+"/repos/acme/site/git/refs/heads/main", strings.NewReader("{"))
	req.Header.Set("Authorization", "token "+e.alice)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("bad JSON: %v %v", resp.StatusCode, err)
	}
}
