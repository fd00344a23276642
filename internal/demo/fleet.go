package demo

// The fleet section of the demo: a second repository, acme/shops, is one
// product run as an instance per customer (docs/fleet.md). Two instances
// are launched through the fleet API, one's colour is changed while it
// runs, and a release is rolled out to both. Every instance is served
// through the same edge as acme/site, by hostname ({name}.localhost and
// stg-{name}.localhost, which browsers resolve to this machine), so each
// step reads what a visitor would get, after hoist's purges.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config/serverconfig"
	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/repoconfig"
	"github.com/hoist-dev/hoist/internal/world"
)

const (
	fleetOwner = "acme"
	fleetRepo  = "shops"
	// fleetHostSuffix ends every instance's hostname.
	fleetHostSuffix = ".localhost"
	// fleetCheckName is the check run a rollout keeps on the release.
	fleetCheckName = "hoist/fleet"
)

// fleetInstance is one customer's instance and the colour it starts with.
type fleetInstance struct{ name, colour string }

var fleetInstances = []fleetInstance{{"coyote", "#d2691e"}, {"runner", "#1e90ff"}}

// fleetColour is what the second step changes coyote's colour to.
const fleetColour = "#2e8b57"

// fleetState is what the fleet steps share.
type fleetState struct {
	token   string // the demo's bearer token of fleet.tokens
	work    string // a clone of acme/shops
	release string // the commit the instances were launched at
}

// fleetSteps plays the fleet section; false once a step failed.
func (r *runner) fleetSteps() bool {
	return r.step("create acme/shops with a fleet template", r.fleetRepo) &&
		r.step("launch two fleet instances", r.fleetLaunch) &&
		r.step("change one instance's colour at run time", r.fleetColour) &&
		r.step("roll a release out to both instances", r.fleetRollout)
}

// fleetServerConfig gives the server what the fleet needs: a token of the
// fleet API for acme/shops (as `fleet.tokens` in the file would) and the
// edge's purges for its instances.
func (r *runner) fleetServerConfig(cfg *serverconfig.Server) error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("fleet token: %w", err)
	}
	r.fleet.token = hex.EncodeToString(b)
	cfg.Fleet.Tokens = append(cfg.Fleet.Tokens, serverconfig.FleetToken{Name: "demo", Token: r.fleet.token, Repos: []string{fleetOwner + "/" + fleetRepo}})
	for i, c := range cfg.CDNs {
		if c.Name == "edge" {
			cfg.CDNs[i].Repos = append(append([]string(nil), c.Repos...), fleetOwner+"/"+fleetRepo)
		}
	}
	return nil
}

// fleetHosts routes the edge's requests for an instance's hostname to the
// instance stage's folder of the local target (acme/shops/{name} and
// acme/shops/dev-{name}, as hoist names their editions); every other
// request goes to next.
func (r *runner) fleetHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host := req.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		label, ok := strings.CutSuffix(strings.ToLower(host), fleetHostSuffix)
		if !ok || label == "" || strings.Contains(label, ".") {
			next.ServeHTTP(w, req)
			return
		}
		stage := label
		if name, ok := strings.CutPrefix(label, "stg-"); ok {
			stage = "dev-" + name
		}
		originHandler(r.sitesDir, fleetOwner+"/"+fleetRepo+"/"+stage).ServeHTTP(w, req)
	})
}

// fleetConfig is acme/shops' .github/hoist.yml: instances follow main, both
// stages smoke-tested and purged at the edge, a colour in the settings.
func (r *runner) fleetConfig() string {
	purgeLine := ""
	if r.edge != nil {
		purgeLine = ", purge: [ { cdn: edge } ]"
	}
	return fmt.Sprintf(`version: 1
site: { root: public }
fleet:
  release: { branch: main }
  target: local
  staging:    { host: "stg-{name}%[1]s", gates: { smoke: true }%[2]s }
  production: { host: "{name}%[1]s", gates: { smoke: true }%[2]s }
  settings:
    schema:
      required: [colour]
      properties:
        colour:  { type: string, pattern: "^#[0-9a-f]{6}$" }
        contact: { type: string, default: "help@example.com" }
  rollout: { wave: 10, max_failures: 0%% }
smoke:
  viewports: [ { name: desktop, width: 1280, height: 800 } ]
  pages:
    - { path: /, expect_text: "Acme Shops", expect_selector: "#colour" }
  crawl: { max_pages: 1 }
`, fleetHostSuffix, purgeLine)
}

// fleetPage is the product's one page: it reads the instance's settings at
// run time and shows its colour. A missing settings file is a failed
// request in the console, which fails the smoke test.
func fleetPage(release string) string {
	return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Shops</title><link rel="icon" href="data:,"></head>
<body><h1>Acme Shops</h1><p class="release">` + release + `</p><p id="colour">…</p>
<script>
fetch("/hoist-settings.json").then(r => r.json()).then(s => {
  const p = document.getElementById("colour");
  p.textContent = "Colour " + s.colour;
  document.body.style.borderTop = "1em solid " + s.colour;
});
</script></body></html>
`
}

// fleetRepo creates acme/shops with its fleet template on main, the release
// branch, and adds it to hoist's installation.
func (r *runner) fleetRepo(s *Step) error {
	if _, err := r.emu.CreateRepo(emulator.RepoSpec{Owner: fleetOwner, Name: fleetRepo, OwnerToken: r.aliceTok}); err != nil {
		return err
	}
	if _, err := r.emu.Install(r.app.ID, fleetOwner+"/"+fleetRepo); err != nil {
		return err
	}
	u, _ := url.Parse(r.emu.URL() + "/" + fleetOwner + "/" + fleetRepo + ".git")
	u.User = url.UserPassword("x-access-token", r.aliceTok)
	r.fleet.work = filepath.Join(r.dataDir, "shops")
	if err := git("", "clone", "-q", u.String(), r.fleet.work); err != nil {
		return err
	}
	for _, args := range [][]string{{"config", "user.email", "alice@example.com"}, {"config", "user.name", "Alice"}} {
		if err := git(r.fleet.work, args...); err != nil {
			return err
		}
	}
	sha, err := r.fleetCommit(map[string]string{".github/hoist.yml": r.fleetConfig(), "public/index.html": fleetPage("Release 1")},
		"Run the shop as a fleet: an instance per customer")
	if err != nil {
		return err
	}
	run, err := r.fleetCheck(sha, repoconfig.ConfigCheckName)
	if err != nil {
		return err
	}
	if run.GetConclusion() != "success" {
		return fmt.Errorf("%s on %.7s concluded %s: %s", repoconfig.ConfigCheckName, sha, run.GetConclusion(), run.GetOutput().GetTitle())
	}
	r.fleet.release = sha
	s.Detail = fmt.Sprintf("main at %.7s is the release; .github/hoist.yml has a fleet: template (stages {name} and dev-{name}, hosts {name}%s, a colour setting); %s: %s",
		sha, fleetHostSuffix, repoconfig.ConfigCheckName, run.GetOutput().GetTitle())
	s.Links = map[string]string{"hoist.yml": r.emu.URL() + "/repos/acme/shops/contents/.github/hoist.yml"}
	return nil
}

// fleetCommit writes files into the clone, commits and pushes them to main.
func (r *runner) fleetCommit(files map[string]string, msg string) (string, error) {
	for name, content := range files {
		if err := writeFile(filepath.Join(r.fleet.work, filepath.FromSlash(name)), content); err != nil {
			return "", err
		}
	}
	if err := commitAll(r.fleet.work, msg); err != nil {
		return "", err
	}
	sha, err := gitOut(r.fleet.work, "rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	return sha, git(r.fleet.work, "push", "-q", "origin", "HEAD:main")
}

// fleetLaunch launches both instances through the fleet API, as
// `hoist instance create` does, and checks each: both branches at the
// release, both folders written, the smoke test passed, and the settings
// file and the page served through the edge at both hostnames.
func (r *runner) fleetLaunch(s *Step) error {
	for _, in := range fleetInstances {
		code, body, err := r.fleetAPI(http.MethodPost, "/instances", map[string]any{"name": in.name, "plan": "paid", "settings": map[string]any{"colour": in.colour}})
		if err != nil {
			return err
		}
		if code != http.StatusAccepted {
			return fmt.Errorf("launch of %s answered %d: %s", in.name, code, clip(string(body)))
		}
	}
	s.Links = map[string]string{}
	var lines []string
	for _, in := range fleetInstances {
		v, err := r.fleetWaitLive(in.name)
		if err != nil {
			return err
		}
		for _, step := range []string{"staging.smoke", "production.smoke", "staging.deploy", "production.deploy"} {
			if !slices.Contains(v.Steps, step) {
				return fmt.Errorf("instance %s is live without the launch step %s (steps %v)", in.name, step, v.Steps)
			}
		}
		for _, branch := range []string{in.name, "dev-" + in.name} {
			ref, _, err := r.alice.Git.GetRef(r.ctx, fleetOwner, fleetRepo, "heads/"+branch)
			if err != nil {
				return fmt.Errorf("branch %s of instance %s: %w", branch, in.name, err)
			}
			if got := ref.GetObject().GetSHA(); got != r.fleet.release {
				return fmt.Errorf("branch %s is at %.7s, want the release %.7s", branch, got, r.fleet.release)
			}
			if _, err := os.Stat(filepath.Join(r.sitesDir, fleetOwner, fleetRepo, branch, "hoist-settings.json")); err != nil {
				return fmt.Errorf("the folder of %s: %w", branch, err)
			}
		}
		for _, host := range fleetHosts(in.name) {
			if err := r.fleetServes(host, "Release 1", in.colour); err != nil {
				return err
			}
			s.Links[host] = r.fleetURL(host)
		}
		lines = append(lines, fmt.Sprintf("%s (%s)", in.name, in.colour))
	}
	s.Detail = fmt.Sprintf("POST /api/fleets/acme/shops/instances twice (202): %s live, each with branches {name} and dev-{name} at %.7s, both folders deployed, "+
		"smoke passed, /hoist-settings.json served through the edge at both hostnames", strings.Join(lines, " and "), r.fleet.release)
	return nil
}

// fleetColour changes coyote's colour: the settings file of its two stages
// is rewritten and purged; runner serves what it served.
func (r *runner) fleetColour(s *Step) error {
	coyote, runner := fleetInstances[0], fleetInstances[1]
	code, body, err := r.fleetAPI(http.MethodPatch, "/instances/"+coyote.name+"/settings", map[string]any{"patch": map[string]any{"colour": fleetColour}})
	if err != nil {
		return err
	}
	var res struct {
		Version int `json:"version"`
		Written int `json:"written"`
		Purged  int `json:"purged"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &res) != nil {
		return fmt.Errorf("settings change answered %d: %s", code, clip(string(body)))
	}
	if res.Written != 2 {
		return fmt.Errorf("settings change wrote %d files, want one per stage", res.Written)
	}
	for _, host := range fleetHosts(coyote.name) {
		if err := r.fleetServes(host, "Release 1", fleetColour); err != nil {
			return err
		}
	}
	for _, host := range fleetHosts(runner.name) {
		if err := r.fleetServes(host, "Release 1", runner.colour); err != nil {
			return fmt.Errorf("the other instance: %w", err)
		}
	}
	edge := "served from the folder"
	if r.edge != nil {
		edge = "the edge purged by key and serves it"
	}
	s.Detail = fmt.Sprintf("PATCH …/instances/%s/settings: version %d, %d files written, %d purged (%s); %s serves %s at both hostnames, %s still %s; no commit, no build",
		coyote.name, res.Version, res.Written, res.Purged, edge, coyote.name, fleetColour, runner.name, runner.colour)
	s.Links = map[string]string{"history": r.url + "/api/fleets/acme/shops/instances/" + coyote.name + "/settings"}
	return nil
}

// fleetRollout pushes a new release to main: hoist upgrades every instance,
// dev-{name} then {name}, and keeps the hoist/fleet check run on the
// release. Each instance's pages then show the new release through the
// edge, with its own settings.
func (r *runner) fleetRollout(s *Step) error {
	sha, err := r.fleetCommit(map[string]string{"public/index.html": fleetPage("Release 2")}, "Release 2")
	if err != nil {
		return err
	}
	run, err := r.fleetCheck(sha, fleetCheckName)
	if err != nil {
		return err
	}
	if run.GetConclusion() != "success" {
		return fmt.Errorf("%s on %.7s concluded %s: %s", fleetCheckName, sha, run.GetConclusion(), run.GetOutput().GetTitle())
	}
	summary := run.GetOutput().GetSummary()
	colours := map[string]string{fleetInstances[0].name: fleetColour, fleetInstances[1].name: fleetInstances[1].colour}
	for _, in := range fleetInstances {
		if !strings.Contains(summary, "| "+in.name+" | prod | upgraded |") {
			return fmt.Errorf("%s does not list %s as upgraded:\n%s", fleetCheckName, in.name, clip(summary))
		}
		for _, branch := range []string{in.name, "dev-" + in.name} {
			ref, _, err := r.alice.Git.GetRef(r.ctx, fleetOwner, fleetRepo, "heads/"+branch)
			if err != nil {
				return err
			}
			if got := ref.GetObject().GetSHA(); got != sha {
				return fmt.Errorf("branch %s is at %.7s after the rollout, want %.7s", branch, got, sha)
			}
		}
		for _, host := range fleetHosts(in.name) {
			if err := r.fleetServes(host, "Release 2", colours[in.name]); err != nil {
				return err
			}
		}
	}
	s.Detail = fmt.Sprintf("push of %.7s to main: %s %s (%s); dev-{name} then {name} of both instances fast-forwarded, smoke-tested and deployed; "+
		"every hostname serves Release 2 through the edge with its own colour", sha, fleetCheckName, run.GetConclusion(), run.GetOutput().GetTitle())
	s.Links = map[string]string{"check run": run.GetHTMLURL(), "rollouts": r.url + "/fleets/acme/shops/rollouts"}
	return nil
}

// fleetHosts are an instance's production and staging hostnames.
func fleetHosts(name string) []string {
	return []string{name + fleetHostSuffix, "stg-" + name + fleetHostSuffix}
}

// fleetURL is where a browser on this machine opens host through the edge.
func (r *runner) fleetURL(host string) string {
	u, _ := url.Parse(r.siteURL)
	return "http://" + host + ":" + u.Port() + "/"
}

// fleetServes reads host's page and settings file through the edge and
// checks the release and the colour.
func (r *runner) fleetServes(host, release, colour string) error {
	code, page, err := r.fleetGet(host, "/")
	if err != nil || code != http.StatusOK || !strings.Contains(page, release) {
		return fmt.Errorf("%s serves %d %q (%v), want %s", host, code, clip(page), err, release)
	}
	code, body, err := r.fleetGet(host, "/hoist-settings.json")
	var settings struct {
		Colour string `json:"colour"`
	}
	if err != nil || code != http.StatusOK || json.Unmarshal([]byte(body), &settings) != nil || settings.Colour != colour {
		return fmt.Errorf("%s serves /hoist-settings.json %d %q (%v), want colour %s", host, code, clip(body), err, colour)
	}
	return nil
}

// fleetGet fetches path from the edge as host.
func (r *runner) fleetGet(host, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, strings.TrimSuffix(r.siteURL, "/")+path, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, string(b), err
}

// fleetAPI calls the fleet API of acme/shops with the demo's token.
func (r *runner) fleetAPI(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(r.ctx, stepLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, r.url+"/api/fleets/"+fleetOwner+"/"+fleetRepo+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.fleet.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, b, err
}

// fleetView is the part of the API's instance the demo reads.
type fleetView struct {
	State  string   `json:"state"`
	Reason string   `json:"reason"`
	Steps  []string `json:"steps"`
}

// fleetWaitLive polls the instance until its launch ended.
func (r *runner) fleetWaitLive(name string) (fleetView, error) {
	var v fleetView
	var last string
	err := world.WaitFor(stepLimit, func() bool {
		code, body, err := r.fleetAPI(http.MethodGet, "/instances/"+name, nil)
		last = fmt.Sprintf("%d %s", code, clip(string(body)))
		if err != nil || code != http.StatusOK || json.Unmarshal(body, &v) != nil {
			return false
		}
		return v.State == "live" || v.State == "failed"
	})
	if err != nil {
		return v, fmt.Errorf("instance %s did not go live (last answer %s): %w", name, last, err)
	}
	if v.State != "live" {
		return v, fmt.Errorf("the launch of %s failed: %s", name, v.Reason)
	}
	return v, nil
}

// fleetCheck waits for the completed check run name on sha of acme/shops.
func (r *runner) fleetCheck(sha, name string) (*github.CheckRun, error) {
	var run *github.CheckRun
	err := world.WaitFor(stepLimit, func() bool {
		res, _, err := r.alice.Checks.ListCheckRunsForRef(r.ctx, fleetOwner, fleetRepo, sha, &github.ListCheckRunsOptions{CheckName: github.String(name)})
		if err != nil || len(res.CheckRuns) == 0 {
			return false
		}
		run = res.CheckRuns[0]
		return run.GetStatus() == "completed"
	})
	if err != nil {
		return nil, fmt.Errorf("%s on %.7s did not complete: %w", name, sha, err)
	}
	return run, nil
}
