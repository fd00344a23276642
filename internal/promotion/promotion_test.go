package promotion_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func TestGreenChecksFastForwardStagingAndRecordADeployment(t *testing.T) {
	w := start(t)
	before := w.Head("staging")
	sha := w.Commit("public/index.html", "<h1>v2</h1>", "New home page")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:dev")

	// No check yet: the gate is pending and staging stays.
	w.Status(sha, "pending")
	time.Sleep(300 * time.Millisecond)
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s before its check passed", got)
	}

	w.Status(sha, "success")
	w.WaitAudit("staging", sha, "promoted")
	if got := w.Head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got, sha)
	}
	// The promotion was a fast-forward: the old head is an ancestor.
	w.Git(w.Work, "fetch", "-q", "origin")
	w.Git(w.Work, "merge-base", "--is-ancestor", before, "origin/staging")

	// The deployment is recorded right after the ref moves and the audit
	// (the push that created the branch was published before it).
	var deps []*github.Deployment
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		all, _, err := w.Alice.Repositories.ListDeployments(context.Background(), "acme", "site", &github.DeploymentsListOptions{Environment: "staging", SHA: sha})
		if err != nil {
			t.Fatal(err)
		}
		if deps = all; len(deps) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(deps) != 1 || deps[0].GetSHA() != sha {
		t.Fatalf("deployments of staging = %+v, want one of %s", deps, sha)
	}
	var sts []*github.DeploymentStatus
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		sts, _, err = w.Alice.Repositories.ListDeploymentStatuses(context.Background(), "acme", "site", deps[0].GetID(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(sts) > 0 {
			break
		}
	}
	if len(sts) == 0 || sts[0].GetState() != "success" || sts[0].GetEnvironmentURL() != "https://staging.example.com/" {
		t.Fatalf("deployment statuses = %+v, want success with the environment URL", sts)
	}
}

func TestRedCheckRefusesAndStagingStays(t *testing.T) {
	w := start(t)
	before := w.Head("staging")
	sha := w.Commit("public/index.html", "<h1>broken</h1>", "Break the home page")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:dev")
	w.Status(sha, "failure")
	w.WaitAudit("staging", sha, "refuse")
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s past a failed check", got)
	}
}

func TestDivergedTargetIsNeverForced(t *testing.T) {
	w := start(t)
	// Someone commits straight to staging: dev no longer contains it.
	w.Git(w.Work, "checkout", "-q", "-b", "hotfix")
	hotfix := w.Commit("public/hotfix.html", "fix", "Hotfix on staging")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:staging")
	w.Git(w.Work, "checkout", "-q", "-")
	sha := w.Commit("public/index.html", "<h1>v3</h1>", "Next feature")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:dev")
	w.Status(sha, "success")
	w.WaitAudit("staging", sha, "refuse")
	if got := w.Head("staging"); got != hotfix {
		t.Fatalf("staging = %s, want the hotfix %s kept", got, hotfix)
	}
}

func TestMatchingTagPromotesTheTaggedCommit(t *testing.T) {
	w := start(t)
	sha := w.Commit("public/index.html", "<h1>release</h1>", "Release")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:dev")
	w.Status(sha, "success")
	// An annotated tag: the push names the tag object, hoist promotes the
	// commit it points at.
	w.Git(w.Work, "tag", "-a", "web-1.2.0", "-m", "Release 1.2.0")
	w.Git(w.Work, "push", "-q", "origin", "web-1.2.0")
	w.WaitAudit("production", sha, "promoted")
	if got := w.Head("prod"); got != sha {
		t.Fatalf("prod = %s, want the tagged commit %s", got, sha)
	}
}
