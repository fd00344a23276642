package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/internal/app"
	"github.com/hoist-dev/hoist/internal/fleet/rollout"
	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/store"
	"github.com/hoist-dev/hoist/internal/testenv"
)

// fleetYML is the repository configuration of the fleet tests: the
// rollout's fleet comes from staticFleets until the template is read from
// this file.
const fleetYML = "version: 1\nenvironments:\n  main: { branch: main }\n"

// staticFleets is a fleet of fixed instances that follows the release
// branch.
type staticFleets struct{ fleet rollout.Fleet }

func (f staticFleets) Release(_ context.Context, _ rollout.Repo, ref string) (rollout.Fleet, bool, error) {
	return f.fleet, ref == "refs/heads/release", nil
}

// bucketGates deploy an instance stage into a folder of a local "bucket"
// (the release's site files and the instance's settings file) and
// smoke-test it there in headless Chromium. It records every check, so a
// test can tell that nothing ran twice and that waves kept their order.
type bucketGates struct {
	t        testing.TB
	site     *sitetest.Site
	root     string
	cdn      *httptest.Server
	chromium string

	// browser lets one smoke test run at a time, as hoist's smoke gate
	// does: a browser takes about two cores while it works.
	browser sync.Mutex

	mu       sync.Mutex
	settings map[string]string
	checks   []check
	running  map[string]bool
	peak     int
}

type check struct {
	rollout.Target
	Passed bool
	At     time.Time
}

// newBucketGates smoke-tests in Chromium with browser set, else over HTTP.
func newBucketGates(t testing.TB, browser bool) *bucketGates {
	g := &bucketGates{t: t, root: t.TempDir(), settings: map[string]string{}, running: map[string]bool{}}
	if browser {
		g.chromium = testenv.Chromium(t)
	}
	g.cdn = httptest.NewServer(http.FileServer(http.Dir(g.root)))
	t.Cleanup(g.cdn.Close)
	return g
}

// setSettings gives an instance its settings file content.
func (g *bucketGates) setSettings(instance, json string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.settings[instance] = json
}

func (g *bucketGates) Check(ctx context.Context, t rollout.Target) (rollout.Result, error) {
	g.mu.Lock()
	g.running[t.Instance] = true
	g.peak = max(g.peak, len(g.running))
	settings, ok := g.settings[t.Instance]
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.running, t.Instance)
		g.mu.Unlock()
	}()
	if !ok {
		settings = fmt.Sprintf(`{"name":%q,"theme":{"colour":"teal"}}`, t.Instance)
	}
	// The gates see the branch where the rollout moved it.
	b, _, err := g.site.Alice.Repositories.GetBranch(ctx, "acme", "site", t.Branch, 0)
	if err != nil {
		return rollout.Result{}, err
	}
	if got := b.GetCommit().GetSHA(); got != t.SHA {
		return rollout.Result{}, fmt.Errorf("%s is at %s, not at the release %s", t.Branch, got, t.SHA)
	}
	rel := filepath.Join(t.Instance, string(t.Stage))
	dir := filepath.Join(g.root, rel)
	if err := os.RemoveAll(dir); err != nil {
		return rollout.Result{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rollout.Result{}, err
	}
	archive := exec.Command("sh", "-c", fmt.Sprintf("git -C %q archive --format=tar %s public | tar -x -C %q --strip-components=1", g.site.Work, t.SHA, dir))
	if out, err := archive.CombinedOutput(); err != nil {
		return rollout.Result{}, fmt.Errorf("deploy %s: %v: %s", rel, err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "hoist-settings.json"), []byte(settings), 0o644); err != nil {
		return rollout.Result{}, err
	}
	base := g.cdn.URL + "/" + filepath.ToSlash(rel) + "/"
	var res rollout.Result
	if g.chromium != "" {
		res, err = g.browserSmoke(ctx, t, base)
	} else {
		res, err = httpSmoke(ctx, base)
	}
	if err != nil {
		return res, err
	}
	g.mu.Lock()
	g.checks = append(g.checks, check{Target: t, Passed: res.Passed, At: time.Now()})
	g.mu.Unlock()
	return res, nil
}

// browserSmoke smoke-tests the stage's page in headless Chromium: the
// page must show its heading and run without a script error.
func (g *bucketGates) browserSmoke(ctx context.Context, t rollout.Target, base string) (rollout.Result, error) {
	g.browser.Lock()
	defer g.browser.Unlock()
	rep, err := smoke.Run(ctx, smoke.Options{BaseURL: base, Pages: []smoke.Page{{Path: "/", ExpectText: "Welcome"}},
		ChromiumPath: g.chromium, Concurrency: 1})
	if err != nil {
		return rollout.Result{}, err
	}
	res := rollout.Result{Passed: rep.Conclusion != smoke.Failure, Link: base}
	if len(rep.Pages) > 0 {
		p := rep.Pages[0]
		if p.Screenshot != nil && len(p.Screenshot.PNG) > 0 {
			shot := filepath.Join("shots", t.Instance+"-"+string(t.Stage)+".png")
			_ = os.MkdirAll(filepath.Join(g.root, "shots"), 0o755)
			if err := os.WriteFile(filepath.Join(g.root, shot), p.Screenshot.PNG, 0o644); err == nil {
				res.Screenshot = g.cdn.URL + "/" + filepath.ToSlash(shot)
			}
		}
		for _, f := range p.Findings {
			if f.Fails {
				res.Reason = "smoke: " + string(f.Kind) + ": " + f.Message
				break
			}
		}
	}
	return res, nil
}

// httpSmoke checks the stage over HTTP, as the page's script would read
// it: the page answers with its heading, and the settings file has the
// theme colour the script paints. It stands in for the browser where a
// fleet is too large to start Chromium for each stage on a small machine.
func httpSmoke(ctx context.Context, base string) (rollout.Result, error) {
	res := rollout.Result{Link: base}
	get := func(path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	page, err := get("")
	if err != nil {
		return res, err
	}
	if !strings.Contains(string(page), "Welcome") {
		res.Reason = "smoke: expect_text: the page does not show Welcome"
		return res, nil
	}
	raw, err := get("hoist-settings.json")
	if err != nil {
		return res, err
	}
	var settings struct {
		Theme *struct {
			Colour string `json:"colour"`
		} `json:"theme"`
	}
	if err := json.Unmarshal(raw, &settings); err != nil || settings.Theme == nil || settings.Theme.Colour == "" {
		res.Reason = "smoke: console_error: the page's script cannot read theme.colour of its settings"
		return res, nil
	}
	res.Passed = true
	return res, nil
}

// checksOf returns the recorded checks of sha.
func (g *bucketGates) checksOf(sha string) []check {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []check
	for _, c := range g.checks {
		if c.SHA == sha {
			out = append(out, c)
		}
	}
	return out
}

// fleetWorld is acme/site with a fleet of instances, each with its
// branches at the first commit, and hoist running rollouts.
type fleetWorld struct {
	*sitetest.Site
	gates     *bucketGates
	instances []string
}

func startFleet(t *testing.T, n int, browser bool, f rollout.Fleet) *fleetWorld {
	t.Helper()
	gates := newBucketGates(t, browser)
	for i := 1; i <= n; i++ {
		f.Instances = append(f.Instances, fmt.Sprintf("c%02d", i))
	}
	s := sitetest.StartSite(t, sitetest.SiteSpec{RepoYML: fleetYML, Branches: []string{"main"},
		Files: map[string]string{"public/index.html": page("v0")},
		Setup: []func(*app.Hooks){func(h *app.Hooks) {
			h.Fleets, h.Gates, h.RolloutPace = staticFleets{f}, gates, 200*time.Millisecond
		}}})
	gates.site = s
	args := []string{"push", "-q", "origin"}
	for _, name := range f.Instances {
		args = append(args, "HEAD:dev-"+name, "HEAD:"+name)
	}
	s.Git(s.Work, args...)
	return &fleetWorld{Site: s, gates: gates, instances: f.Instances}
}

// page is the site's one page: it reads the instance's settings and
// paints its theme; settings without a theme break it (a script error).
func page(version string) string {
	return `<!doctype html><html><head><title>Welcome</title></head><body><h1>Welcome</h1><p>` + version + `</p>
<script>fetch("hoist-settings.json").then(r => r.json()).then(s => { document.body.style.background = s.theme.colour; });</script>
</body></html>`
}

// release commits a new version of the page and pushes it to the release
// branch.
func (w *fleetWorld) release(version string) string {
	w.T.Helper()
	sha := w.Commit("public/index.html", page(version), "Release "+version)
	w.Push("release")
	return sha
}

// rolloutOf waits for the rollout of sha to reach state and returns it
// with its instances by name.
func (w *fleetWorld) rolloutOf(sha string, state rollout.RolloutState) (rollout.Rollout, map[string]rollout.Instance) {
	w.T.Helper()
	var r rollout.Rollout
	var insts []rollout.Instance
	sitetest.Eventually(w.T, 90*time.Second, func() (bool, string) {
		var err error
		r, err = w.Caps.Rollouts.Find(context.Background(), "acme/site", sha)
		if err != nil {
			return false, err.Error()
		}
		if r, insts, err = w.Caps.Rollouts.Rollout(context.Background(), r.ID); err != nil {
			return false, err.Error()
		}
		var states []string
		for _, i := range insts {
			states = append(states, fmt.Sprintf("%s:%s/%s/%d", i.Name, i.Stage, i.State, i.Attempt))
		}
		return r.State == state, fmt.Sprintf("rollout %d is %s (%s), want %s; %s", r.ID, r.State, r.Reason, state, strings.Join(states, " "))
	})
	out := map[string]rollout.Instance{}
	for _, i := range insts {
		out[i.Name] = i
	}
	return r, out
}

// fleetRun waits for the hoist/fleet check run on sha to be completed with
// conclusion, the newest one when there are several.
func (w *fleetWorld) fleetRun(sha, conclusion string) *github.CheckRun {
	w.T.Helper()
	var run *github.CheckRun
	sitetest.Eventually(w.T, time.Minute, func() (bool, string) {
		runs, _, err := w.Alice.Checks.ListCheckRunsForRef(context.Background(), "acme", "site", sha,
			&github.ListCheckRunsOptions{CheckName: github.String(rollout.CheckName)})
		if err != nil {
			return false, err.Error()
		}
		if len(runs.CheckRuns) == 0 {
			return false, "no " + rollout.CheckName + " check run"
		}
		run = runs.CheckRuns[0]
		for _, r := range runs.CheckRuns {
			if r.GetID() > run.GetID() {
				run = r
			}
		}
		return run.GetStatus() == "completed" && run.GetConclusion() == conclusion, w.debugJobs() +
			fmt.Sprintf("%s is %s/%s, want completed/%s: %s", rollout.CheckName, run.GetStatus(), run.GetConclusion(), conclusion, run.GetOutput().GetTitle())
	})
	return run
}

// heads returns the heads of every instance branch.
func (w *fleetWorld) heads() map[string]string {
	w.T.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(w.Git(w.Work, "ls-remote", "--heads", "origin"), "\n") {
		sha, ref, ok := strings.Cut(line, "\t")
		if ok {
			out[strings.TrimPrefix(ref, "refs/heads/")] = sha
		}
	}
	return out
}

// person creates a user with a role on acme/site and returns their client.
func (w *fleetWorld) person(login, permission string) *github.Client {
	w.T.Helper()
	tok := w.GH.CreateUser(login)
	if _, _, err := w.Alice.Repositories.AddCollaborator(context.Background(), "acme", "site", login,
		&github.RepositoryAddCollaboratorOptions{Permission: permission}); err != nil {
		w.T.Fatalf("add %s: %v", login, err)
	}
	return w.GH.Client(tok)
}

// say comments on pull request number and returns the comment's id.
func (w *fleetWorld) say(who *github.Client, number int, body string) int64 {
	w.T.Helper()
	c, _, err := who.Issues.CreateComment(context.Background(), "acme", "site", number, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		w.T.Fatalf("comment %q: %v", body, err)
	}
	return c.GetID()
}

// answered waits for hoist's reply to the first command of comment.
func (w *fleetWorld) answered(number int, comment int64) string {
	w.T.Helper()
	var body string
	sitetest.Eventually(w.T, time.Minute, func() (bool, string) {
		run, err := w.Srv.Store().CommandRun(context.Background(), comment, 1)
		if err != nil || run.Status != store.CommandDone {
			return false, fmt.Sprintf("comment %d not answered (%v)", comment, err)
		}
		cs, _, err := w.Alice.Issues.ListComments(context.Background(), "acme", "site", number, &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cs {
			if c.GetID() == run.ReplyID {
				body = c.GetBody()
				return true, ""
			}
		}
		return false, "reply not found"
	})
	return body
}

// debugJobs lists the newest rollout jobs with their errors, for a
// failure message.
func (w *fleetWorld) debugJobs() string {
	rows, err := w.Srv.Store().Query(context.Background(), `SELECT kind, state, attempt, args, errors FROM river_job WHERE kind LIKE 'hoist_fleet%' ORDER BY id DESC LIMIT 15`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	out := ""
	for rows.Next() {
		var kind, state, args string
		var attempt int
		var errs *string
		rows.Scan(&kind, &state, &attempt, &args, &errs)
		e := ""
		if errs != nil {
			e = *errs
		}
		out += fmt.Sprintf("%s %s %d %s %.300s\n", kind, state, attempt, args, e)
	}
	return out
}
