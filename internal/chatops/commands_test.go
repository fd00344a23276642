package chatops_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	hoistapp "github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/chatops"
	"github.com/hoist-dev/hoist/internal/safety"
	"github.com/hoist-dev/hoist/internal/server"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/store"
)

func TestWriteUserPromotesStagingByCommand(t *testing.T) {
	w := startCommands(t)
	sha := w.greenOnDev("v2")
	w.WaitAudit("staging", sha, "ready") // staging waits for a person
	if got := w.Head("staging"); got == sha {
		t.Fatal("staging moved without a command")
	}
	c := w.say(w.bob, "Ship it.\n\n/promote staging\n")
	reply := w.answered(c, 3)
	if got := w.Head("staging"); got != sha {
		t.Fatalf("staging = %s after /promote, want %s; reply:\n%s", got, sha, reply)
	}
	contains(t, "the reply", reply, "🚀 @bob", "`/promote staging` is done", "Promoted `staging` to `"+sha[:7]+"`",
		"https://staging.example.com/", "<!-- hoist:command")
	if rs := strings.Join(w.reactions(c), ","); rs != "eyes,rocket" {
		t.Fatalf("reactions %q, want eyes then rocket", rs)
	}
	w.WaitAudit("staging", sha, "promoted")
	entries, _ := w.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
	found := false
	for _, e := range entries {
		if e.Action == "command" && e.Actor == "bob" && e.Outcome == "allowed" && e.Detail["permission"] == "write" {
			found = true
		}
		if e.Action == "promote" && e.Outcome == "promoted" && e.Env == "staging" && e.Actor != "bob" {
			t.Fatalf("the promotion is attributed to %q, want bob", e.Actor)
		}
	}
	if !found {
		t.Fatalf("no audit of bob's allowed command: %+v", entries)
	}
}

func TestReadUserIsRefusedAndNothingMoves(t *testing.T) {
	w := startCommands(t)
	sha := w.greenOnDev("v2")
	w.WaitAudit("staging", sha, "ready")
	before := w.Head("staging")
	c := w.say(w.rita, "/promote staging")
	reply := w.answered(c, 1)
	contains(t, "the refusal", reply, "😕 @rita I did not run `/promote staging`", "needs **write** permission", "you have **read**")
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s on a refused command", got)
	}
	if rs := strings.Join(w.reactions(c), ","); rs != "confused" {
		t.Fatalf("reactions %q, want confused only", rs)
	}
	entries, _ := w.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
	for _, e := range entries {
		if e.Action == "command" && e.Actor == "rita" && e.Outcome == "refused" {
			return
		}
	}
	t.Fatalf("the refusal is not audited: %+v", entries)
}

func TestEditedAndQuotedCommentsDoNothing(t *testing.T) {
	w := startCommands(t)
	sha := w.greenOnDev("v2")
	w.WaitAudit("staging", sha, "ready")
	before := w.Head("staging")
	ctx := context.Background()

	// An edit that adds a command runs nothing.
	c := w.say(w.bob, "Looks good to me.")
	w.handled(c, "created")
	if _, _, err := w.bob.Issues.EditComment(ctx, "acme", "site", c, &github.IssueComment{Body: github.String("Looks good to me.\n/promote staging")}); err != nil {
		t.Fatal(err)
	}
	w.handled(c, "edited")
	// A quoted command runs nothing either.
	q := w.say(w.bob, "> /promote production\n\nWhy did you write this?")
	w.handled(q, "created")

	// hoist's own account (any bot) is never obeyed.
	insts, _, err := w.GH.Client(w.App.JWT()).Apps.ListInstallations(ctx, nil)
	if err != nil || len(insts) != 1 {
		t.Fatalf("installations %v %v", insts, err)
	}
	b := w.say(w.GH.InstallationClient(w.App, insts[0].GetID()), "/promote staging")
	w.handled(b, "created")

	// A real command after them is answered, so hoist was listening.
	s := w.say(w.bob, "/status")
	reply := w.answered(s, 1)
	contains(t, "the status", reply, "`/status` is done", "| `staging` | `staging` | `"+before[:7]+"`")
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s", got)
	}
	if n := len(w.replies()); n != 2 { // the bot's own comment, and the reply to /status
		t.Fatalf("%d comments by hoist, want the bot's comment and the reply to /status", n)
	}
	for _, id := range []int64{c, q, b} {
		if runs, _ := w.Srv.Store().CommandRuns(ctx, id); len(runs) != 0 {
			t.Fatalf("comment %d ran %+v", id, runs)
		}
		if rs := w.reactions(id); len(rs) != 0 {
			t.Fatalf("comment %d got reactions %v", id, rs)
		}
	}
}

func TestHoldBlocksPromotionUntilUnhold(t *testing.T) {
	w := startCommands(t)
	prodBefore := w.Head("prod")
	// Production needs maintain: bob (write) may not hold it.
	refused := w.say(w.bob, "/hold production")
	contains(t, "the refusal", w.answered(refused, 1), "needs **maintain** permission")

	c := w.say(w.Alice, "/hold production for 2h release freeze")
	reply := w.answered(c, 1)
	contains(t, "the hold reply", reply, "`production` is held until", "(for 2h)", "`release freeze`")
	holds, err := w.Srv.Store().ActiveHolds(context.Background(), "acme/site", time.Now())
	if err != nil || len(holds) != 1 || holds[0].By != "alice" || holds[0].Until == nil {
		t.Fatalf("active holds %+v %v", holds, err)
	}

	// The hold's end is a durable timer: an evaluation of production
	// scheduled for then.
	var timers int
	if err := w.Srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion'
		AND state = 'scheduled' AND json_extract(args, '$.env') = 'production'`).Scan(&timers); err != nil || timers != 1 {
		t.Fatalf("%d scheduled evaluations of production (%v), want the hold's end", timers, err)
	}

	// Staging moves; production, which follows it automatically, does not.
	sha := w.greenOnDev("v2")
	w.answered(w.say(w.bob, "/promote staging"), 1)
	if got := w.Head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got, sha)
	}
	w.WaitAudit("production", sha, "refuse")
	if got := w.Head("prod"); got != prodBefore {
		t.Fatalf("production moved to %s while held", got)
	}
	// A person's /promote does not pass a hold either.
	held := w.answered(w.say(w.Alice, "/promote production"), 1)
	contains(t, "the refusal", held, "😕 @alice I did not run `/promote production`.", "production is held by alice: release freeze")
	if got := w.Head("prod"); got != prodBefore {
		t.Fatalf("production moved to %s by /promote while held", got)
	}
	status := w.answered(w.say(w.bob, "/status"), 1)
	contains(t, "the status", status, "@alice until", "production is held by alice")

	u := w.say(w.Alice, "/unhold production")
	contains(t, "the unhold reply", w.answered(u, 1), "Released 1 hold on `production`")
	w.WaitAudit("production", sha, "promoted")
	if got := w.Head("prod"); got != sha {
		t.Fatalf("production = %s after /unhold, want %s", got, sha)
	}
}

func TestRollbackReturnsStagingToThePreviousDeployment(t *testing.T) {
	// The alert webhook: a local receiver of Slack-style posts.
	var alerts atomic.Value
	alerts.Store("")
	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		alerts.Store(alerts.Load().(string) + body["text"] + "\n")
	}))
	defer hook.Close()
	w := startCommandsSpec(t, sitetest.SiteSpec{Tweaks: []func(*serverconfig.Server){func(c *serverconfig.Server) {
		c.Alerts.WebhookURL = hook.URL + "/services/T0/B0/TOKEN"
	}}})
	ctx := context.Background()
	v2 := w.greenOnDev("v2")
	w.answered(w.say(w.bob, "/promote staging"), 1)
	v3 := w.greenOnDev("v3")
	w.answered(w.say(w.bob, "/promote staging"), 1)
	if got := w.Head("staging"); got != v3 {
		t.Fatalf("staging = %s, want %s", got, v3)
	}

	// A commit that never was on staging is refused.
	w.Git(w.Work, "checkout", "-q", "-b", "elsewhere")
	other := w.Commit("public/other.html", "other", "Elsewhere")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:elsewhere")
	w.Git(w.Work, "checkout", "-q", "-")
	bad := w.say(w.bob, "/rollback staging "+other[:10])
	contains(t, "the refusal", w.answered(bad, 1), "is not in the history of `staging`")

	c := w.say(w.bob, "/rollback staging")
	reply := w.answered(c, 1)
	if got := w.Head("staging"); got != v2 {
		t.Fatalf("staging = %s after /rollback, want the previous deployment %s; reply:\n%s", got, v2, reply)
	}
	contains(t, "the reply", reply, "Rolled `staging` back from `"+v3[:7]+"` to `"+v2[:7]+"`", "held")
	if rs := strings.Join(w.reactions(c), ","); rs != "eyes,rocket" {
		t.Fatalf("reactions %q", rs)
	}
	// Recorded as a deployment of the rolled-back commit.
	deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: "staging"})
	if err != nil || len(deps) == 0 || deps[0].GetSHA() != v2 || !strings.Contains(deps[0].GetDescription(), "rollback") || countDescribed(deps, "rollback") != 1 {
		t.Fatalf("deployments of staging %+v %v, want the newest of %s by rollback, once", deps, err, v2)
	}
	// Recorded as a failure of v3 (budgets, time to restore), and alerted.
	outs, err := w.Caps.Outcomes.Outcomes(ctx, "acme/site", "staging", time.Now().Add(-time.Hour))
	rollbacks := 0
	for _, o := range outs {
		if o.Kind == safety.KindRollback && !o.OK && o.SHA == v3 {
			rollbacks++
		}
	}
	if err != nil || rollbacks != 1 {
		t.Fatalf("rollback outcomes: %d %v in %+v", rollbacks, err, outs)
	}
	if got, want := alerts.Load().(string), "hoist: acme/site staging: rolled back from "+v3[:7]+" to "+v2[:7]+" by bob."; !strings.Contains(got, want) {
		t.Fatalf("alerts %q, want %q", got, want)
	}
	// Held, so the automatic evaluation the move starts keeps it there.
	if hs, _ := w.Srv.Store().EnvHolds(ctx, "acme/site", "staging", time.Now()); len(hs) != 1 {
		t.Fatalf("staging holds after rollback: %+v", hs)
	}
	w.WaitAudit("staging", v3, "refuse")
	if got := w.Head("staging"); got != v2 {
		t.Fatalf("staging = %s, promoted again after the rollback", got)
	}
	entries, _ := w.Srv.Store().AuditLog(ctx, "acme/site", 100)
	for _, e := range entries {
		if e.Action == "rollback" && e.Outcome == "rolled_back" && e.Actor == "bob" && e.Detail["from"] == v3 && e.Detail["to"] == v2 {
			return
		}
	}
	t.Fatalf("the rollback is not audited: %+v", entries)
}

func TestUnknownVerbGetsHelp(t *testing.T) {
	w := startCommands(t)
	c := w.say(w.bob, "/promot staging")
	reply := w.answered(c, 1)
	contains(t, "the reply", reply, "`promot` is not a hoist command", "Did you mean `/promote staging`?", "- `/promote <env> [<sha>]`")
	if rs := strings.Join(w.reactions(c), ","); rs != "confused" {
		t.Fatalf("reactions %q", rs)
	}
	h := w.say(w.bob, "/hoist help")
	help := w.answered(h, 1)
	// Temporary preview links are off unless the server enables them.
	contains(t, "the help", help, "### hoist commands", "| `/promote <env> [<sha>]` |", "Not available on this installation yet: `/preview`")
	// A verb whose feature is off on this server is answered politely.
	s := w.say(w.bob, "/preview staging")
	contains(t, "the preview reply", w.answered(s, 1), "😕 @bob `/preview staging` failed.", "previews are off on this server")
}

// The /preview reply is public to every reader of the pull request: it
// links the preview origin's page that signs a writer in, never the signed
// link itself.
func TestPreviewReplyCarriesNoCredential(t *testing.T) {
	w := startCommandsSpec(t, sitetest.SiteSpec{
		ServerYAML: "dashboard: { client_id: Iv1.test, client_secret: s, session_key: 0123456789abcdef0123456789abcdef }\n",
		Env:        map[string]string{"HOIST_PREVIEW_ADDR": "127.0.0.1:0", "HOIST_PREVIEW_URL": "http://localhost:1", "HOIST_CHROMIUM": "/nonexistent"},
	})
	reply := w.answered(w.say(w.bob, "/preview staging"), 1)
	staging := w.Head("staging")
	contains(t, "the preview reply", reply, "write access", "(http://localhost:1/open/acme/site/"+staging+")")
	for _, secret := range []string{"/preview/acme/site/", "sig=", "exp=", w.URL} {
		if strings.Contains(reply, secret) {
			t.Errorf("the public reply contains %q:\n%s", secret, reply)
		}
	}
}

func TestTheSameCommentTwiceIsAnsweredOnce(t *testing.T) {
	w := startCommands(t)
	ctx := context.Background()
	c := w.say(w.bob, "/status")
	w.answered(c, 1)
	first := w.handled(c, "created")

	// GitHub's redelivery: the same delivery id again.
	var accepted *github.AcceptedError // 202: GitHub queues the redelivery
	if _, _, err := w.GH.Client(w.App.JWT()).Apps.RedeliverHookDelivery(ctx, first.ID); err != nil && !errors.As(err, &accepted) {
		t.Fatal(err)
	}
	w.GH.WaitForDelivery(func(d emulator.Delivery) bool { return d.GUID == first.GUID && d.Redelivery })
	// The same comment under a new delivery id (a second hook, a replay).
	body := []byte(first.Payload)
	mac := hmac.New(sha256.New, []byte(w.App.WebhookSecret))
	mac.Write(body)
	req := httptest.NewRequest(http.MethodPost, server.WebhookPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "issue_comment")
	req.Header.Set("X-GitHub-Delivery", "replay-"+first.GUID)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	rec := httptest.NewRecorder()
	w.Srv.Handler().ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		t.Fatalf("replay answered %d %s", rec.Code, rec.Body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := w.Srv.Store().GetDelivery(ctx, "replay-"+first.GUID)
		if err == nil && d.Status == store.StatusHandled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay not handled: %+v %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Every command job has run (River skipped the replay's as a duplicate
	// of the comment's, or it found the comment answered), then count.
	w.commandJobsDone()
	if n := len(w.replies()); n != 1 {
		t.Fatalf("%d replies to one comment, want 1", n)
	}
	if got, _ := w.Srv.Store().GetDelivery(ctx, first.GUID); got.Duplicates < 1 {
		t.Fatalf("the redelivery was not seen as a duplicate: %+v", got)
	}
}

func TestPromoteWithAPendingCheckSaysWhatItWaitsFor(t *testing.T) {
	w := startCommands(t)
	before := w.Head("staging")
	sha := w.Commit("public/v2.html", "v2", "v2")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:dev")
	w.Status(sha, "pending")
	c := w.say(w.bob, "/hoist promote staging")
	reply := w.answered(c, 1)
	contains(t, "the reply", reply, "👀 @bob on it: `/promote staging`.", "cannot be promoted to `staging` yet",
		`Waiting for check "ci / test"`, "Once they pass, say `/promote staging` again.")
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s past a pending check", got)
	}
	if rs := strings.Join(w.reactions(c), ","); rs != "eyes" {
		t.Fatalf("reactions %q, want eyes only while waiting", rs)
	}
	// A named commit that is not on dev is refused.
	w.Git(w.Work, "checkout", "-q", "-b", "side")
	side := w.Commit("public/side.html", "side", "Side")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:side")
	contains(t, "the refusal", w.answered(w.say(w.bob, "/promote staging "+side[:8]), 1), "is not on `dev`")
}

// A job that died after acting and replying, before it recorded the line
// done, runs again: it must neither act twice nor reply twice.
func TestARerunAfterACrashActsAndRepliesOnce(t *testing.T) {
	w := startCommands(t)
	ctx := context.Background()
	st := w.Srv.Store()
	c := w.say(w.bob, "/hold staging for 1h flaky tests")
	w.answered(c, 1)

	var raw string
	if err := st.QueryRow(ctx, `SELECT json(args) FROM river_job WHERE kind = 'hoist_pr_command'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var args chatops.CommandArgs
	if err := json.Unmarshal([]byte(raw), &args); err != nil || args.CommentID != c {
		t.Fatalf("job args %s: %v", raw, err)
	}
	// Back to the state of a crash: the line claimed, its result not stored.
	run, err := st.CommandRun(ctx, c, 1)
	if err != nil {
		t.Fatal(err)
	}
	delete(run.Detail, "result")
	run.Status, run.ReplyID = store.CommandStarted, 0
	if err := st.UpdateCommandRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Exec(ctx, `DELETE FROM river_job WHERE kind = 'hoist_pr_command'`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Srv.Engine().Insert(ctx, args, nil); err != nil {
		t.Fatal(err)
	}
	w.answered(c, 1)
	if n := len(w.replies()); n != 1 {
		t.Fatalf("%d replies after the rerun, want 1", n)
	}
	if hs, _ := st.EnvHolds(ctx, "acme/site", "staging", time.Now()); len(hs) != 1 {
		t.Fatalf("holds after the rerun: %+v", hs)
	}
	var timers int
	if err := st.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion' AND state = 'scheduled'`).Scan(&timers); err != nil || timers != 1 {
		t.Fatalf("%d hold timers after the rerun (%v), want 1", timers, err)
	}
}

func TestShortFormCanBeTurnedOff(t *testing.T) {
	w := startCommands(t)
	w.Commit(".github/hoist.yml", commandsYML+"commands: { short_form: false }\n", "Another bot owns /hold")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:main")
	short := w.say(w.bob, "/hold staging")
	w.handled(short, "created")
	long := w.say(w.bob, "/hoist hold staging")
	contains(t, "the reply", w.answered(long, 1), "`staging` is held", "`/hoist unhold staging`")
	w.commandJobsDone()
	if runs, _ := w.Srv.Store().CommandRuns(context.Background(), short); len(runs) != 0 {
		t.Fatalf("the short form ran with short_form: false: %+v", runs)
	}
	if n := len(w.replies()); n != 1 {
		t.Fatalf("%d replies, want only the one to the long form", n)
	}
}

func TestDeployPublishesTheHeadAgain(t *testing.T) {
	w := startCommands(t)
	ctx := context.Background()
	head := w.Head("staging")
	c := w.say(w.bob, "/deploy staging")
	contains(t, "the reply", w.answered(c, 1), "Deployed `staging` again at `"+head[:7]+"`", "https://staging.example.com/")
	deps, _, err := w.Alice.Repositories.ListDeployments(ctx, "acme", "site", &github.DeploymentsListOptions{Environment: "staging"})
	// Pushing the branch published it once already; /deploy adds one.
	if err != nil || len(deps) == 0 || deps[0].GetSHA() != head || !strings.Contains(deps[0].GetDescription(), "redeploy") || countDescribed(deps, "redeploy") != 1 {
		t.Fatalf("deployments of staging %+v %v, want one redeploy of %s", deps, err, head)
	}
	if got := w.Head("staging"); got != head {
		t.Fatalf("staging moved to %s on /deploy", got)
	}
}

func TestTeamsLimitAnEnvironment(t *testing.T) {
	w := startCommands(t)
	w.Commit(".github/hoist.yml", strings.Replace(commandsYML, "auto: true, permission: maintain,", "auto: false, permission: maintain, teams: [release],", 1), "Only the release team ships")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:main")
	carol, dave := w.person("carol", "maintain"), w.person("dave", "maintain")
	if err := w.GH.SetTeam("acme", "release", "carol"); err != nil {
		t.Fatal(err)
	}
	sha := w.greenOnDev("v2")
	w.answered(w.say(w.bob, "/promote staging"), 1)
	prod := w.Head("prod")

	refused := w.answered(w.say(dave, "/promote production"), 1)
	contains(t, "dave's refusal", refused, "😕 @dave I did not run `/promote production`.", "is limited to members of the team `release`")
	if got := w.Head("prod"); got != prod {
		t.Fatalf("production moved to %s for someone outside the team", got)
	}
	done := w.answered(w.say(carol, "/promote production"), 1)
	contains(t, "carol's reply", done, "🚀 @carol `/promote production` is done.", "Promoted `production` to `"+sha[:7]+"`")
	if got := w.Head("prod"); got != sha {
		t.Fatalf("production = %s after the team member's /promote, want %s", got, sha)
	}
}

// A timed hold ends by itself: its timer job re-evaluates the promotions it
// held back once it expires.
func TestATimedHoldEndsAndPromotionResumes(t *testing.T) {
	// While the hold is put, hoist's clock runs an hour less fifteen
	// seconds behind, so that "/hold production for 1h" ends fifteen
	// seconds from now: time for staging to move and production to be
	// refused while the hold lasts.
	const left = 15 * time.Second
	var behind atomic.Int64
	behind.Store(int64(time.Hour - left))
	w := startCommands(t, func(h *hoistapp.Hooks) {
		h.Now = (func() time.Time { return time.Now().Add(-time.Duration(behind.Load())) })
	})
	prod := w.Head("prod")
	contains(t, "the hold", w.answered(w.say(w.Alice, "/hold production for 1h"), 1), "`production` is held until")
	behind.Store(0)

	sha := w.greenOnDev("v2")
	w.answered(w.say(w.bob, "/promote staging"), 1)
	w.WaitAudit("production", sha, "refuse") // evaluated while the hold lasted
	if got := w.Head("prod"); got != prod {
		t.Fatalf("production moved to %s while held", got)
	}
	// Nothing else happens now: only the hold's timer evaluates production again.
	w.WaitAudit("production", sha, "promoted")
	if got := w.Head("prod"); got != sha {
		t.Fatalf("production = %s after the hold ended, want %s", got, sha)
	}
}
