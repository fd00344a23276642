package smokegate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/smokegate"
)

func TestSmokePassPromotesCandidate(t *testing.T) {
	w := startSmoke(t, "", nil)
	before := w.Head("staging")
	w.Write("public/index.html", `<!doctype html><title>Shop</title><h1>Shop</h1><p>Spring sale: everything must go!</p><a href="about/">About</a>`)
	sha := w.Commit("public/about/index.html", `<!doctype html><title>About</title><h1>About the Shop</h1><p>Since 1999.</p>`, "Regenerate the site")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")

	w.WaitAudit("staging", sha, "promoted")
	if got := w.Head("staging"); got != sha {
		t.Fatalf("staging = %s, want %s", got, sha)
	}
	// The push found the gate pending; hoist's own completed check run
	// came back as a webhook and its re-evaluation promoted.
	entries, _ := w.Srv.Store().AuditLog(context.Background(), "acme/site", 50)
	for _, e := range entries {
		if e.Outcome == "promoted" && e.Detail["trigger"] != "event" {
			t.Errorf("promoted by trigger %v, want the check run's event", e.Detail["trigger"])
		}
	}
	w.Git(w.Work, "fetch", "-q", "origin")
	w.Git(w.Work, "merge-base", "--is-ancestor", before, "origin/staging")

	runs := w.WaitSmoke(sha, 1)
	cr := runs[len(runs)-1]
	if cr.GetConclusion() != "success" || cr.GetApp().GetSlug() != "hoist" {
		t.Fatalf("smoke run: %s by %s, %q", cr.GetConclusion(), cr.GetApp().GetSlug(), cr.GetOutput().GetTitle())
	}
	if title := cr.GetOutput().GetTitle(); !strings.HasPrefix(title, "2/2 pages OK") {
		t.Errorf("title %q", title)
	}
	summary := cr.GetOutput().GetSummary()
	// The baseline is staging's head before the promotion, photographed
	// on the fly: both pages changed.
	if !strings.Contains(summary, "| `/` |") || !strings.Contains(summary, "changed") || !strings.Contains(summary, "compared with `"+before[:7]) {
		t.Errorf("summary lacks the page table or the visual change:\n%s", summary)
	}
	state, ok := w.GH.CheckRunState(cr.GetID())
	if !ok || len(state.Output.Images) == 0 {
		t.Fatalf("no images on the check run: %+v", state.Output)
	}
	home := false
	for _, img := range state.Output.Images {
		checkImage(w, img)
		home = home || strings.Contains(fmt.Sprint(img["alt"]), "of / (desktop)")
	}
	if !home {
		t.Errorf("home page not among the images: %+v", state.Output.Images)
	}
	// Screenshots are served only through their signed URL: unsigned,
	// tampered, moved to another repository, or expired gets 404.
	shot, _ := url.Parse(fmt.Sprint(state.Output.Images[0]["image_url"]))
	sig := shot.Query().Get("sig")
	sha256 := strings.TrimSuffix(path.Base(shot.Path), ".png")
	tamperedSig := []byte(sig)
	tamperedSig[3] ^= 1
	if tamperedSig[3] == '.' || tamperedSig[3] == '/' {
		tamperedSig[3] = 'A'
	}
	for name, u := range map[string]string{
		"unsigned":                w.URL + shot.Path,
		"the old unsigned form":   w.URL + "/artifacts/" + sha256 + ".png",
		"tampered signature":      w.URL + shot.Path + "?exp=" + shot.Query().Get("exp") + "&sig=" + string(tamperedSig),
		"later expiry":            w.URL + shot.Path + "?exp=" + fmt.Sprint(time.Now().Add(1000*24*time.Hour).Unix()) + "&sig=" + sig,
		"another repository":      w.URL + strings.Replace(shot.String(), "/acme/site/", "/acme/other/", 1)[len(shot.Scheme+"://"+shot.Host):],
		"expired":                 w.URL + w.Caps.Smoke.SignUntil(shot.Path, time.Now().Add(-time.Second)),
		"an extra query argument": fmt.Sprint(state.Output.Images[0]["image_url"]) + "&x=1",
	} {
		if resp, body := get(w, u); resp.StatusCode != http.StatusNotFound || bytes.HasPrefix(body, []byte("\x89PNG")) {
			t.Errorf("%s screenshot URL %s: %d, want 404", name, u, resp.StatusCode)
		}
	}
	if resp, _ := get(w, w.URL+w.Caps.Smoke.SignUntil(shot.Path, time.Now().Add(time.Minute))); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("a freshly signed URL: %d %s, want 200 image/png", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// details_url is hoist's own report page, with every page.
	if !strings.HasPrefix(cr.GetDetailsURL(), w.URL+smokegate.SmokeReportPrefix) {
		t.Fatalf("details_url %q", cr.GetDetailsURL())
	}
	resp, body := get(w, cr.GetDetailsURL())
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/about/") || !strings.Contains(string(body), "/artifacts/acme/site/") {
		t.Fatalf("report page: %d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(string(body), "?exp=") {
		t.Errorf("the report links unsigned screenshots:\n%s", body)
	}
	// The report, too, only through its signed URL.
	details, _ := url.Parse(cr.GetDetailsURL())
	for name, u := range map[string]string{
		"unsigned": w.URL + details.Path,
		"expired":  w.URL + w.Caps.Smoke.SignUntil(details.Path, time.Now().Add(-time.Second)),
	} {
		if resp, body := get(w, u); resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "/about/") {
			t.Errorf("%s report URL: %d, want 404", name, resp.StatusCode)
		}
	}

	// The browser tested a loopback-only preview, closed once the run ended.
	run, err := w.Srv.Store().SmokeRunByCheck(context.Background(), "acme/site", cr.GetID())
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		BaseURL string `json:"base_url"`
	}
	if err := json.Unmarshal(run.Report, &report); err != nil || !strings.HasPrefix(report.BaseURL, "http://127.0.0.1:") {
		t.Fatalf("tested at %q (%v), want a loopback preview", report.BaseURL, err)
	}
	if resp, err := http.Get(report.BaseURL + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("the preview of a finished run still answers at %s", report.BaseURL)
	}

	// Nothing of the site itself is public, and previews are off.
	for _, p := range []string{"/", "/index.html", "/about/", "/public/index.html", "/preview/acme/site/" + sha + "/1/x/"} {
		resp, body := get(w, w.URL+p)
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "Spring sale") {
			t.Errorf("GET %s on hoist's public address: %d %q", p, resp.StatusCode, body)
		}
	}
	if _, err := w.Caps.Smoke.Preview(context.Background(), smokegate.SmokeRequest{Installation: w.InstallationID, Owner: "acme", Repo: "site", SHA: sha}); err != smokegate.ErrPreviewDisabled {
		t.Errorf("Preview with links off: %v", err)
	}
	// Only the artifact names are public.
	for _, p := range []string{"/artifacts/", "/artifacts/" + strings.Repeat("0", 64) + ".png", "/artifacts/../data/hoist.db"} {
		if resp, _ := get(w, w.URL+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestSmokeFailureBlocksCandidateAndRerunRunsAgain(t *testing.T) {
	w := startSmoke(t, "", nil)
	before := w.Head("staging")
	sha := w.Commit("public/about/index.html", `<!doctype html><title>About</title><h1>About the Shop</h1>
<img src="/missing.png" alt="">
<script>console.error("price feed is empty")</script>`, "Regenerate the site with broken data")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")

	w.WaitAudit("staging", sha, "refuse")
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s past a failed smoke test", got)
	}
	runs := w.WaitSmoke(sha, 1)
	cr := runs[0]
	if cr.GetConclusion() != "failure" {
		t.Fatalf("conclusion %s, title %q", cr.GetConclusion(), cr.GetOutput().GetTitle())
	}
	title := cr.GetOutput().GetTitle()
	if !strings.Contains(title, "1/2 pages OK") || !strings.Contains(title, "console error") || !strings.Contains(title, "failed request") {
		t.Errorf("title %q", title)
	}
	state, _ := w.GH.CheckRunState(cr.GetID())
	failing := false
	for _, img := range state.Output.Images {
		if strings.Contains(fmt.Sprint(img["alt"]), "/about/") {
			failing = true
			checkImage(w, img)
			if !strings.Contains(fmt.Sprint(img["caption"]), "price feed is empty") {
				t.Errorf("caption %q does not say what failed", img["caption"])
			}
		}
	}
	if !failing {
		t.Fatalf("the failing page's screenshot is not in the check run: %+v", state.Output.Images)
	}
	if ids := actionIDs(state); strings.Join(ids, ",") != "rerun" {
		t.Errorf("buttons %v, want only rerun (the gate refuses a promotion)", ids)
	}

	// Re-run through the button, as a user would click it.
	resp, err := http.Post(w.GH.URL()+fmt.Sprintf("/_emulator/check-runs/%d/request-action", cr.GetID()), "application/json",
		strings.NewReader(`{"identifier":"rerun","user":"alice"}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("click Re-run: %v %v", resp, err)
	}
	runs = w.WaitSmoke(sha, 2)
	if len(runs) != 2 || runs[1].GetID() == cr.GetID() || runs[1].GetConclusion() != "failure" {
		t.Fatalf("re-run: %+v", runs)
	}
	// GitHub's "Re-run" link sends check_run rerequested.
	rreq, _ := http.NewRequest("POST", w.GH.URL()+fmt.Sprintf("/repos/acme/site/check-runs/%d/rerequest", runs[1].GetID()), nil)
	if _, err := w.Alice.Do(context.Background(), rreq, nil); err != nil {
		t.Fatal(err)
	}
	runs = w.WaitSmoke(sha, 3)
	if len(runs) != 3 {
		t.Fatalf("rerequest: %d runs", len(runs))
	}
	// "Re-run all checks" sends check_suite rerequested.
	sreq, _ := http.NewRequest("POST", w.GH.URL()+fmt.Sprintf("/repos/acme/site/check-suites/%d/rerequest", runs[2].GetCheckSuite().GetID()), nil)
	if _, err := w.Alice.Do(context.Background(), sreq, nil); err != nil {
		t.Fatal(err)
	}
	runs = w.WaitSmoke(sha, 4)
	if len(runs) != 4 {
		t.Fatalf("suite rerequest: %d runs", len(runs))
	}
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s", got)
	}
}

// A candidate's page is a stranger's: one that frames hoist's own address
// and reaches for the cloud metadata service gets nothing, and the check
// run fails naming each refused request; staging does not move.
func TestSmokeHostilePageIsFenced(t *testing.T) {
	w := startSmoke(t, "", nil)
	before := w.Head("staging")
	sha := w.Commit("public/about/index.html", `<!doctype html><title>About</title><h1>About the Shop</h1>
<iframe src="`+w.URL+`/"></iframe>
<img src="http://169.254.169.254/latest/meta-data/iam/security-credentials/">`, "A page that looks around")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")

	w.WaitAudit("staging", sha, "refuse")
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s past a fenced page", got)
	}
	cr := w.WaitSmoke(sha, 1)[0]
	out := cr.GetOutput()
	if cr.GetConclusion() != "failure" || !strings.Contains(out.GetTitle(), "2 blocked requests") {
		t.Fatalf("conclusion %s, title %q", cr.GetConclusion(), out.GetTitle())
	}
	// The table escapes Markdown; read it as a person would.
	summary := strings.ReplaceAll(out.GetSummary(), `\`, "")
	for _, want := range []string{
		"blocked_request: refused by hoist's browser fence: loopback address 127.0.0.1 (" + w.URL + "/)",
		"blocked_request: refused by hoist's browser fence: cloud metadata address 169.254.169.254 (http://169.254.169.254/latest/meta-data/iam/security-credentials/)",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary does not say %q:\n%s", want, out.GetSummary())
		}
	}
}

func TestSmokePromoteButton(t *testing.T) {
	w := sitetest.StartSmokeWith(t, strings.Replace(fmt.Sprintf(sitetest.CandidateYML, ", auto: false"), "branch: staging,", "branch: staging, permission: maintain,", 1), nil)
	w.GH.CreateUser("bob")
	if _, _, err := w.Alice.Repositories.AddCollaborator(context.Background(), "acme", "site", "bob",
		&github.RepositoryAddCollaboratorOptions{Permission: "push"}); err != nil {
		t.Fatal(err)
	}
	sha := w.Commit("public/index.html", `<!doctype html><title>Shop</title><h1>Shop</h1><p>New arrivals.</p>`, "Regenerate")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")
	runs := w.WaitSmoke(sha, 1)
	cr := runs[0]
	state, _ := w.GH.CheckRunState(cr.GetID())
	if cr.GetConclusion() != "success" || strings.Join(actionIDs(state), ",") != "rerun,promote" {
		t.Fatalf("conclusion %s, buttons %v", cr.GetConclusion(), actionIDs(state))
	}
	// auto: false: the gate passes but nobody promoted yet.
	w.WaitAudit("staging", sha, "ready")
	// bob may write, but staging needs maintain: refused, and recorded.
	resp, err := http.Post(w.GH.URL()+fmt.Sprintf("/_emulator/check-runs/%d/request-action", cr.GetID()), "application/json",
		strings.NewReader(`{"identifier":"promote","user":"bob"}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("bob clicks Promote: %v %v", resp, err)
	}
	w.WaitAudit("staging", sha, "refused")
	if got := w.Head("staging"); got == sha {
		t.Fatal("bob promoted staging without the maintain permission")
	}
	resp, err = http.Post(w.GH.URL()+fmt.Sprintf("/_emulator/check-runs/%d/request-action", cr.GetID()), "application/json",
		strings.NewReader(`{"identifier":"promote","user":"alice"}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("click Promote: %v %v", resp, err)
	}
	w.WaitAudit("staging", sha, "promoted")
	entries, _ := w.Srv.Store().AuditLog(context.Background(), "acme/site", 20)
	for _, e := range entries {
		if e.Outcome == "promoted" && e.Actor != "alice" {
			t.Errorf("promotion attributed to %q, want alice", e.Actor)
		}
	}
}

// Previews themselves (their own origin, sign-in, write access) are tested
// with the whole of hoist serve in internal/app.
func TestSmokeWithABrokenBrowserFailsVisibly(t *testing.T) {
	w := startSmoke(t, "", map[string]string{"HOIST_CHROMIUM": "/bin/true"})
	sha := w.Commit("public/index.html", `<!doctype html><title>Shop</title><h1>Preview me</h1>`, "Candidate")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")
	// The push also queued a smoke test, whose browser (/bin/true) cannot
	// start: after its last attempt the check run is completed as a
	// failure with the reason, never left in progress.
	runs := w.WaitSmoke(sha, 1)
	last := runs[len(runs)-1]
	if last.GetConclusion() != "failure" || last.GetOutput().GetTitle() != "Smoke test could not run" ||
		!strings.Contains(last.GetOutput().GetSummary(), "chromium") {
		t.Fatalf("run with a broken browser: %s %q\n%s", last.GetConclusion(), last.GetOutput().GetTitle(), last.GetOutput().GetSummary())
	}
	if got := w.Head("staging"); got == sha {
		t.Fatal("staging promoted past a smoke test that could not run")
	}
}

// Another app's check run named hoist/smoke does not pass the smoke gate:
// only hoist's own app counts.
func TestSmokeGateIgnoresAnotherAppsRun(t *testing.T) {
	// No browser here: hoist cannot run its own smoke test, so only the
	// impostor's run exists.
	w := startSmoke(t, "", map[string]string{"HOIST_CHROMIUM": "/nonexistent/chromium"})
	imp := w.GH.CreateApp("impostor", "")
	inst := w.GH.Install(imp.ID, "acme/site")
	before := w.Head("staging")
	sha := w.Commit("public/index.html", "<h1>Shop, unchecked</h1>", "Regenerate")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")
	_, _, err := w.GH.InstallationClient(imp, inst).Checks.CreateCheckRun(context.Background(), "acme", "site", github.CreateCheckRunOptions{
		Name: "hoist/smoke", HeadSHA: sha, Status: github.String("completed"), Conclusion: github.String("success"),
		Output: &github.CheckRunOutput{Title: github.String("all good"), Summary: github.String("trust me")}})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until hoist evaluated the promotion after that check run.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := w.Srv.Store().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'hoist_evaluate_promotion'
			AND state = 'completed' AND json_extract(args, '$.trigger') = 'event'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no evaluation after the impostor's check run")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s on another app's hoist/smoke run", got)
	}
}

// An environment with the smoke gate promoted from another one: a push to
// the source branch is smoke-tested and promoted once the test passes.
func TestSmokeGateOnPromoteFrom(t *testing.T) {
	w := sitetest.StartSmokeWith(t, `version: 1
site: { root: public }
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { smoke: true } }
smoke:
  pages: [ { path: /, expect_text: "Shop" } ]
`, nil)
	sha := w.Commit("public/index.html", "<!doctype html><title>Shop</title><h1>Shop</h1><p>dev build</p>", "Change the home page")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:dev")
	w.WaitAudit("staging", sha, "promoted")
	runs := w.WaitSmoke(sha, 1)
	if runs[0].GetConclusion() != "success" {
		t.Fatalf("smoke: %s %q", runs[0].GetConclusion(), runs[0].GetOutput().GetTitle())
	}
}

// A run that never gets to finish (here: it waits for a browser that stays
// busy) is completed as failed at its deadline: no check run stays queued
// or in progress forever, and the gate does not pass.
func TestSmokeDeadlineFailsAStuckRun(t *testing.T) {
	defer smokegate.SetSmokeDeadline(time.Second)()
	w := startSmoke(t, "", nil)
	release := w.Caps.Smoke.HoldBrowser()
	defer release()
	before := w.Head("staging")
	sha := w.Commit("public/index.html", "<h1>Shop</h1>", "Regenerate")
	w.Git(w.Work, "push", "-q", "origin", "HEAD:pre-staging")
	runs := w.WaitSmoke(sha, 1)
	out := runs[0].GetOutput()
	if runs[0].GetConclusion() != "failure" || out.GetTitle() != "Smoke test could not run" || !strings.Contains(out.GetSummary(), "did not finish within 1s") {
		t.Fatalf("stuck run: %s %q\n%s", runs[0].GetConclusion(), out.GetTitle(), out.GetSummary())
	}
	w.WaitAudit("staging", sha, "refuse")
	if got := w.Head("staging"); got != before {
		t.Fatalf("staging moved to %s", got)
	}
}
