package editions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/server"
)

// TestEditionAttacks: branch names and events that try to reach what is
// not theirs change nothing. An environment's branch matched by the
// editions' globs is never an edition, and deleting it removes nothing; a
// branch named into another's edition is refused without touching it;
// branch names with unicode or escapes get one safe folder of their own;
// a forged delete is refused at intake, and a delete signed for another
// installation, or naming a branch that still exists, removes nothing.
func TestEditionAttacks(t *testing.T) {
	w := startEditions(t, editionsYML)
	ctx := context.Background()
	st := w.Srv.Store()

	w.Git(w.Work, "checkout", "-q", "-b", "docs")
	docs := w.Commit("public/index.html", "<h1>docs</h1>", "Docs")
	w.Push("docs")
	w.waitEdition("edition/docs", docs, "success")

	// feature/b is named docs by the configuration: docs is taken.
	w.Git(w.Work, "checkout", "-q", "-b", "feature/b")
	b := w.Commit("public/index.html", "<h1>feature b</h1>", "Feature B")
	w.Push("feature/b")
	w.WaitAudit("edition/docs", b, "refused")
	if got := w.body("acme/site/v/docs/index.html"); got != "<h1>docs</h1>" {
		t.Fatalf("the docs edition holds %q after feature/b was refused its name", got)
	}

	// Unicode and escapes: one safe folder each, nowhere else.
	for _, branch := range []string{"feature/Ünïcödé", "feature/UPPER.Case", "feature/%2e%2e", "feature/a.-.b"} {
		name := config.RepoEditions{}.EditionOf(branch)
		if strings.ContainsAny(name, "/%\\") || strings.Contains(name, "..") || !isASCII(name) {
			t.Fatalf("branch %q got the edition %q", branch, name)
		}
		sha := w.Commit("public/index.html", "<h1>"+branch+"</h1>", "Branch "+branch)
		w.Push(branch)
		w.waitEdition("edition/"+name, sha, "success")
		if got := w.body("acme/site/v/" + name + "/index.html"); got != "<h1>"+branch+"</h1>" {
			t.Fatalf("edition of %q holds %q", branch, got)
		}
	}
	for _, k := range w.objects("acme/site/") {
		if !strings.HasPrefix(k, "acme/site/v/") && !strings.HasPrefix(k, "acme/site/staging/") && !strings.HasPrefix(k, "acme/site/production/") {
			t.Errorf("an object outside the editions' and environments' folders: %s", k)
		}
	}

	// An environment's branch is no edition, and deleting it removes
	// nothing of the environment.
	w.put("acme/site/staging/index.html", "<h1>staging</h1>")
	w.Git(w.Work, "push", "-q", "origin", "--delete", "staging")
	for _, env := range []string{"edition/staging", "edition/main"} {
		deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: env})
		if err != nil || len(deps) != 0 {
			t.Fatalf("deployments of %s: %d %v, want none", env, len(deps), err)
		}
	}

	// Delete events for docs, whose branch exists: forged, for another
	// installation, and signed as GitHub would (a replay under a new id).
	event := func(installation int64) []byte {
		body, _ := json.Marshal(map[string]any{"ref": "docs", "ref_type": "branch", "pusher_type": "user",
			"repository":   map[string]any{"name": "site", "full_name": "acme/site", "default_branch": "main", "owner": map[string]any{"login": "acme"}},
			"installation": map[string]any{"id": installation}, "sender": map[string]any{"login": "mallory"}})
		return body
	}
	if code := w.deliver(event(w.InstallationID), emulator.Sign("not the secret", event(w.InstallationID)), "forged"); code != http.StatusUnauthorized {
		t.Fatalf("a forged delete answered %d, want 401", code)
	}
	other := event(w.InstallationID + 1000)
	w.deliver(other, emulator.Sign(w.App.WebhookSecret, other), "other-installation")
	time.Sleep(2 * time.Second)
	if e, ok, err := st.EditionOf(ctx, "acme/site", "branch:docs"); err != nil || !ok || !e.RemoveAt.IsZero() {
		t.Fatalf("after a delete of another installation the docs edition is %+v %v %v, want untouched", e, ok, err)
	}
	replay := event(w.InstallationID)
	if code := w.deliver(replay, emulator.Sign(w.App.WebhookSecret, replay), "replayed"); code >= 300 {
		t.Fatalf("the signed delete answered %d", code)
	}
	time.Sleep(grace + 3*time.Second) // past the grace period
	if got := w.body("acme/site/v/docs/index.html"); got != "<h1>docs</h1>" {
		t.Fatalf("the docs edition holds %q after deletes of a branch that exists", got)
	}
	if e, ok, err := st.EditionOf(ctx, "acme/site", "branch:docs"); err != nil || !ok || !e.RemoveAt.IsZero() {
		t.Fatalf("docs edition after the deletes: %+v %v %v", e, ok, err)
	}
	if code, body := w.get("/v/docs/"); code != 200 || body != "<h1>docs</h1>" {
		t.Fatalf("the docs edition at the edge: %d %q", code, body)
	}
	if got := w.body("acme/site/staging/index.html"); got != "<h1>staging</h1>" {
		t.Fatalf("the staging folder holds %q after its branch was deleted", got)
	}
}

// body reads an object of the bucket ("" when absent).
func (w *editionWorld) body(key string) string {
	w.T.Helper()
	out, err := w.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("site"), Key: aws.String(key)})
	if err != nil {
		return ""
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b)
}

// deliver posts a delete webhook to hoist and returns the answer's status.
func (w *editionWorld) deliver(body []byte, signature, id string) int {
	w.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.URL+server.WebhookPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "delete")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("attack-%s-%d", id, time.Now().UnixNano()))
	req.Header.Set("X-Hub-Signature-256", signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.T.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func isASCII(s string) bool {
	for _, r := range s {
		if r >= 0x80 {
			return false
		}
	}
	return true
}
