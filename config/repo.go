// Package config is the repository's configuration, .github/hoist.yml: its
// types, loader, checks and schema. It is pure: LoadRepoConfig is handed
// the bytes, and nothing here opens a file, talks to a network or imports
// an adapter. The server's own settings are package config/serverconfig.
package config

// The repository configuration, .github/hoist.yml, as Go types. The struct
// tags are the single source of the file format: `yaml` names the key, `doc`
// describes it (the JSON Schema and docs/config.md take it from here) and
// `schema` adds JSON Schema constraints (enum, minimum, maximum, pattern,
// default) that editors show while typing. Semantic rules that span fields
// (promotion chains, unique branches, …) live in repo_validate.go.

import (
	"time"
)

// RepoConfigPath is where hoist looks for the repository configuration.
const RepoConfigPath = ".github/hoist.yml"

// RepoConfigVersion is the only version of the file format this hoist reads.
const RepoConfigVersion = 1

// RepoConfig is a repository's .github/hoist.yml after defaults were applied
// and every rule was checked. Build one with LoadRepoConfig.
type RepoConfig struct {
	Version      int              `yaml:"version" doc:"Version of the file format; must be 1." schema:"enum=1;required"`
	Site         RepoSite         `yaml:"site" doc:"Where the built site lives in each environment's branch."`
	Environments RepoEnvironments `yaml:"environments" doc:"The environments, keyed by name (used in commands, deployments and check runs). Each environment is a branch; promotion fast-forwards it."`
	Candidates   []RepoCandidate  `yaml:"candidates" doc:"Candidate branches of generated sites: a push to 'from' is smoke-tested and, once the gates of 'to' pass, fast-forwarded into the branch of 'to'."`
	Tags         []RepoTagRule    `yaml:"tags" doc:"Tag rules: pushing a tag that matches a pattern promotes the tagged commit to an environment."`
	Smoke        RepoSmoke        `yaml:"smoke" doc:"The smoke test hoist runs in headless Chromium on every candidate commit; its result is the hoist/smoke check run."`
	Generate     RepoGenerate     `yaml:"generate" doc:"Site generation for sites built from a database: a repository_dispatch event starts the build workflow, bursts coalesced."`
	Commands     RepoCommands     `yaml:"commands" doc:"Slash-commands in pull request and issue comments."`
	Deploy       RepoPublish      `yaml:"deploy" doc:"How the site is published, in every environment and by hoist sync: Cache-Control and Content-Type per path, and what to do with symbolic links that cannot be published."`
	ReleaseGroup RepoReleaseGroup `yaml:"release_group" doc:"The release group this repository releases together with: a promotion into one of the group's environments moves every member's environment, or none. A name alone joins a group of the server configuration (which must list this repository); a mapping {name, members, environments} declares a group that is in force only when every member declares it alike."`
	Editions     RepoEditions     `yaml:"editions" doc:"Editions per branch and per pull request: each matching branch (and, when on, each pull request) is published under its own folder and URL, recorded as the GitHub deployment edition/<name>, and removed with its files a grace period after the branch is deleted or the pull request closed."`
	Fleet        RepoFleet        `yaml:"fleet" doc:"The template of a fleet: one instance per customer, each with a production branch ({name}) and a staging branch (dev-{name}), its own folders and hostnames, and settings kept in hoist's database. See docs/fleet.md."`

	// File is the name the configuration was loaded from, as given to
	// LoadRepoConfig; error messages and Summary use it.
	File string `yaml:"-"`

	// pos maps a key path (environments.staging.gates.soak) to where its
	// value was written, for messages that point into the file.
	pos map[string]RepoPos
}

// RepoSite says where the site is in a branch.
type RepoSite struct {
	Root string `yaml:"root" doc:"Folder of the branch that holds the built site, relative to the repository root. Default: the repository root." schema:"default=."`
}

// RepoEnvironments are the environments in the order the file lists them.
// In YAML they are a mapping from name to settings; the order is kept so
// that summaries and errors follow the file.
type RepoEnvironments []RepoEnvironment

// Get returns the environment called name.
func (envs RepoEnvironments) Get(name string) (RepoEnvironment, bool) {
	for _, e := range envs {
		if e.Name == name {
			return e, true
		}
	}
	return RepoEnvironment{}, false
}

// Names lists the environments' names in file order.
func (envs RepoEnvironments) Names() []string {
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.Name
	}
	return out
}

// RepoEnvironment is one environment: a branch, where it is promoted from and
// what must hold before it moves.
type RepoEnvironment struct {
	// Name is the key of the environment in the environments mapping.
	Name string `yaml:"-"`

	Branch      string      `yaml:"branch" doc:"The environment's branch. Default: the environment's name."`
	PromoteFrom string      `yaml:"promote_from" doc:"The environment this one is promoted from: its branch head is fast-forwarded into this environment's branch once the gates pass."`
	Auto        bool        `yaml:"auto" doc:"Promote automatically as soon as every gate passes. When false, a person promotes with /promote <env> (or by merging the promotion pull request); the gates still apply." schema:"default=false"`
	Permission  string      `yaml:"permission" doc:"Least repository permission needed to promote, roll back, hold or deploy this environment by command." schema:"enum=$permissions;default=write"`
	Teams       []string    `yaml:"teams" doc:"If set, only members of one of these GitHub teams (slug, or org/slug) may act on this environment by command; repository admins always may."`
	Gates       RepoGates   `yaml:"gates" doc:"What must hold before a commit is promoted into this environment."`
	Deploy      RepoDeploy  `yaml:"deploy" doc:"Where the environment's site is published after each promotion or push."`
	Purge       []RepoPurge `yaml:"purge" doc:"CDNs to purge after the environment was deployed; only what changed is purged."`
	// FailureBudget is nil when the file sets none.
	FailureBudget *RepoFailureBudget `yaml:"failure_budget" doc:"How often changes may fail on their way into this environment (CI gates, smoke tests, deploys, verifications, rollbacks, all counted per environment over a rolling window). Once the share of failures exceeds rate, automatic promotions into the environment stop: they wait for a person (or a hold, see on_exhausted) until the rate is back within budget."`
	Verify        *RepoVerify        `yaml:"verify" doc:"Check the live site after each deploy and purge: the smoke test's pages at the environment's public URL, through the CDN, reported as a hoist/verify check run and on the deployment. Needs deploy.target."`
}

// RepoFailureBudget is an environment's failure budget.
type RepoFailureBudget struct {
	Rate        string `yaml:"rate" doc:"The largest share of failed outcomes the environment accepts, as a percentage such as 5% or 0.5%." schema:"pattern=^[0-9]+(\\.[0-9]+)?%$;required"`
	Window      string `yaml:"window" doc:"The rolling window outcomes are counted over, in days or hours, such as 30d, 7d or 12h." schema:"pattern=^[0-9]+[dh]$;default=30d"`
	MinSamples  int    `yaml:"min_samples" doc:"Outcomes the window must hold before the budget can be exhausted, so that one early failure does not stop promotions." schema:"minimum=1;maximum=100000;default=20"`
	OnExhausted string `yaml:"on_exhausted" doc:"What an exhausted budget does to automatic promotions: pr waits for a person to promote (with /promote or by merging the promotion pull request, whose approvals still apply); hold refuses them until the rate recovers, as a hold does (a person's /promote is refused too)." schema:"enum=pr|hold;default=pr"`

	// RateValue (a fraction, 0.05 for 5%) and WindowValue are Rate and
	// Window read, set once the file is valid.
	RateValue   float64       `yaml:"-"`
	WindowValue time.Duration `yaml:"-"`
}

// RepoVerify is the check of an environment's live site after each deploy.
type RepoVerify struct {
	URL          string `yaml:"url" doc:"The public URL the pages are checked at, through the CDN. Default: deploy.url." schema:"format=uri"`
	AutoRollback bool   `yaml:"auto_rollback" doc:"When the check fails, move the environment back to the last deployment that passed it (as a new commit on the branch restoring that tree), deploy, purge and check again, and hold the environment. Once per incident: a failing rollback stays held and alerts." schema:"default=false"`
	CacheBust    bool   `yaml:"cache_bust" doc:"Add a hoist_verify=<commit> query to every page, so the CDN fetches from the origin instead of answering from its cache." schema:"default=false"`
}

// RepoGates are the conditions for a promotion. An empty RepoGates lets
// every commit through.
type RepoGates struct {
	Checks    []RepoCheck   `yaml:"checks" doc:"Checks that must succeed on the commit: a name or glob (check runs, commit statuses or workflow runs of any reporter), or a mapping {name, app, creator} that also says who must report it (recommended: anyone who can post a commit status or install an app can otherwise report a check of that name). Every check the name matches must pass (a matrix waits for each job); none matching yet waits. Success, neutral and skipped pass; pending waits; anything else refuses."`
	Smoke     bool          `yaml:"smoke" doc:"The hoist/smoke check run on the commit must pass." schema:"default=false"`
	Soak      time.Duration `yaml:"soak" doc:"How long the commit must have been the head of the source branch, for example 30m or 2h. Default: no soak time."`
	Approvals int           `yaml:"approvals" doc:"Approving reviews the promotion pull request needs, on the commit being promoted, from distinct reviewers other than its author who have write access (and, when the environment has teams, belong to one of them). A request for changes by such a reviewer refuses." schema:"minimum=0;maximum=20;default=0"`
}

// RepoCheck is one check a gate requires. In the file it is either a name
// or glob ("ci / test", "ci / test*") or a mapping that also names who must
// report it. When app or
// creator is set, only results from that reporter count; a result of the same
// name from anyone else is ignored (and shown as ignored in the gate).
type RepoCheck struct {
	Name    string `yaml:"name" doc:"The check's name, or a glob (* matches any run of characters except /, ? one character, [a-z] a class, \\ escapes): a check run's, workflow run's or commit status's name, or for a job of an Actions workflow '<workflow> / <job>' as branch protection shows it, such as 'ci / test' or 'ci / test*' for every job of a matrix." schema:"required"`
	App     string `yaml:"app" doc:"Slug of the GitHub App whose check runs count, such as github-actions (workflow runs count as github-actions). Set, it ignores check runs of other apps, and commit statuses unless creator is set too." schema:"pattern=^[a-z0-9][a-z0-9-]{0,99}$"`
	Creator string `yaml:"creator" doc:"Login of the account whose commit statuses count, such as ci-bot or my-app[bot]. Set, it ignores statuses by anyone else, and check runs unless app is set too." schema:"pattern=^[A-Za-z0-9][A-Za-z0-9-]{0,38}(\\[bot\\])?$"`
}

// Restricted reports whether the check names who must report it.
func (c RepoCheck) Restricted() bool { return c.App != "" || c.Creator != "" }

// RepoReleaseGroup is the repository's release group. In the file it is
// either a name (a group of the server configuration) or a mapping that
// declares the group itself, with every member and environment.
type RepoReleaseGroup struct {
	Name         string   `yaml:"name" doc:"The group's name." schema:"required;pattern=^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"`
	Members      []string `yaml:"members" doc:"Every member repository as owner/name, this one included. Each must declare the same group with the same members and environments, so no repository can join another's group alone."`
	Environments []string `yaml:"environments" doc:"The environments released together; each member must have them."`
}

// Declared reports whether the repository declares the group's members
// itself rather than joining a group of the server configuration.
func (g RepoReleaseGroup) Declared() bool { return len(g.Members) > 0 }

// RepoDeploy names a storage target of the server configuration.
type RepoDeploy struct {
	Target string `yaml:"target" doc:"Name of a deploy target in the server configuration (credentials never live in the repository)."`
	Prefix string `yaml:"prefix" doc:"Folder the environment is published to, inside the repository's own folder of the target (by default the server's <owner>/<repo>/). A clean relative path: no leading /, no . or .. folder, no \\ or %. Default: the environment's name and a slash, when target is set."`
	URL    string `yaml:"url" doc:"The environment's public URL, shown on GitHub deployments as 'View deployment'. When it has a path (https://docs.example.com/v/1.2/), CDN path purges go under that path." schema:"format=uri"`
}

// RepoPublish applies to every deploy of the repository's site: the
// server's, in each environment, and `hoist sync`'s.
type RepoPublish struct {
	Cache           []RepoCacheRule `yaml:"cache" doc:"Headers by path, for files the built-in defaults do not suit (pages revalidate, fingerprinted assets are immutable, the rest is cached 5 minutes). The first rule whose path matches a file wins; a field a rule leaves out keeps the default. A change of rules rewrites the affected objects on the next deploy."`
	SkipBrokenLinks bool            `yaml:"skip_broken_links" doc:"Symbolic links that resolve inside the site are published as their target's content. A link that leads outside the site, dangles or loops refuses the whole deploy, naming it, unless this is true: then the site is published without it and the deploy lists it." schema:"default=false"`
}

// RepoEditions publishes branches and pull requests as editions of their
// own, beside the environments.
type RepoEditions struct {
	Branches     []string          `yaml:"branches" doc:"Globs of the branches published as editions (* matches any run of characters except /, ? one character, [a-z] a class), such as feature/* or docs-*. An environment's or a candidate's branch never is one."`
	PullRequests bool              `yaml:"pull_requests" doc:"Publish every open pull request whose branch is in this repository as the edition pr-<number>, commenting its URL on the pull request once. Pull requests from forks are not published." schema:"default=false"`
	Target       string            `yaml:"target" doc:"Name of the deploy target in the server configuration the editions go to; required when branches or pull_requests is set."`
	Path         string            `yaml:"path" doc:"Where each edition is published, with {edition} for its name: the folder under the repository's own folder of the target and the path of its URL, such as /v/{edition}/. The name is made one safe folder: lower-case letters, digits, '.', '_' and '-', with a hash of the branch name added whenever that changed it." schema:"default=/editions/{edition}/"`
	URL          string            `yaml:"url" doc:"The site's address (scheme and host, such as https://docs.example.com); an edition's URL is this followed by its path. Default: the deploy target's public URL."`
	Purge        []RepoPurge       `yaml:"purge" doc:"CDNs purged under the edition's path after each deploy and when the edition is removed."`
	Grace        time.Duration     `yaml:"grace" doc:"How long an edition stays after its branch is deleted or its pull request closed, such as 1h or 168h; 0 removes it at once; a branch pushed again (or a pull request reopened) within it keeps its edition. Default: 1h."`
	Names        []RepoEditionName `yaml:"names" doc:"Names given to the editions of some branches instead of the name made from the branch's; a changed name moves the edition on its branch's next push and removes the old one."`
}

// Enabled reports whether any branch or pull request is published.
func (e RepoEditions) Enabled() bool { return len(e.Branches) > 0 || e.PullRequests }

// RepoEditionName names the edition of one branch.
type RepoEditionName struct {
	Branch string `yaml:"branch" doc:"The branch, such as release/1.2." schema:"required"`
	Name   string `yaml:"name" doc:"The edition's name, one folder name of lower-case letters, digits, '.', '_' and '-', such as 1.2." schema:"required"`
}

// RepoCacheRule sets the headers of the files whose path matches.
type RepoCacheRule struct {
	Path         string `yaml:"path" doc:"Glob over the file's path from the site root, starting with /: * matches any run of characters except /, ? one character except /, and ** as a whole segment any number of folders (/assets/** is everything under /assets/, /**/*.html every page). Other characters match themselves." schema:"pattern=^/;required"`
	CacheControl string `yaml:"cache_control" doc:"Cache-Control of the matching files, such as no-cache or public, max-age=31536000, immutable."`
	ContentType  string `yaml:"content_type" doc:"Content-Type of the matching files, such as text/plain; charset=utf-8. Default: from the file's extension."`
}

// RepoPurge is one CDN to purge after a deploy.
type RepoPurge struct {
	CDN   string   `yaml:"cdn" doc:"Name of a CDN in the server configuration." schema:"required"`
	Soft  bool     `yaml:"soft" doc:"Mark content stale instead of removing it, where the CDN supports it (Fastly)." schema:"default=false"`
	Paths []string `yaml:"paths" doc:"Paths purged on every deploy in addition to the changed ones, such as /health.html."`
	Keys  []string `yaml:"keys" doc:"Surrogate keys (cache tags) purged on every deploy in addition to the changed ones."`
}

// RepoCandidate is a candidate branch of a generated site.
type RepoCandidate struct {
	From string `yaml:"from" doc:"The candidate branch the site build pushes to, such as pre-staging; it must not be an environment's branch." schema:"required"`
	To   string `yaml:"to" doc:"The environment the candidate is promoted into once that environment's gates pass." schema:"required"`
	Auto *bool  `yaml:"auto" doc:"Promote the candidate automatically once the gates pass. Default: true." schema:"default=true"`
}

// Automatic reports whether the candidate is promoted without a command.
func (c RepoCandidate) Automatic() bool { return c.Auto == nil || *c.Auto }

// RepoTagRule promotes tagged commits.
type RepoTagRule struct {
	Pattern string `yaml:"pattern" doc:"Glob matched against the tag name (without refs/tags/): * matches any run of characters except /, ? one character, [a-z] a class." schema:"required"`
	Promote string `yaml:"promote" doc:"The environment a matching tag's commit is promoted to (through that environment's gates)." schema:"required"`
}

// RepoSmoke configures the smoke test.
type RepoSmoke struct {
	Viewports []RepoViewport `yaml:"viewports" doc:"Browser window sizes each page is tested in. Default: desktop 1280x800."`
	Pages     []RepoPage     `yaml:"pages" doc:"Pages to test, with what they must contain. Default: the home page /."`
	Crawl     RepoCrawl      `yaml:"crawl" doc:"Follow same-site links from the listed pages to find broken ones."`
	FailOn    []string       `yaml:"fail_on" doc:"Kinds of findings that fail the smoke test; other findings make it neutral. Default: all kinds." schema:"items.enum=$fail_on"`
	Visual    RepoVisual     `yaml:"visual" doc:"Screenshot comparison with the environment's current head."`
}

// RepoViewport is a browser window size in CSS pixels.
type RepoViewport struct {
	Name   string `yaml:"name" doc:"Name shown in reports, such as desktop or mobile." schema:"required"`
	Width  int    `yaml:"width" doc:"Width in CSS pixels; widths under 600 are emulated as a phone." schema:"minimum=200;maximum=7680;required"`
	Height int    `yaml:"height" doc:"Height in CSS pixels." schema:"minimum=200;maximum=4320;required"`
}

// RepoPage is one page of the smoke test.
type RepoPage struct {
	Path           string `yaml:"path" doc:"Path of the page, starting with /, optionally with a query." schema:"pattern=^/;required"`
	ExpectText     string `yaml:"expect_text" doc:"Text the page must contain."`
	ExpectSelector string `yaml:"expect_selector" doc:"CSS selector that must match at least one element."`
	MaxLoadMS      int    `yaml:"max_load_ms" doc:"Longest acceptable time to the load event in milliseconds; 0 is no limit." schema:"minimum=0;maximum=120000;default=0"`
}

// RepoCrawl bounds the crawl.
type RepoCrawl struct {
	MaxPages int `yaml:"max_pages" doc:"How many pages the crawl may add to the listed ones; 0 turns crawling off." schema:"minimum=0;maximum=10000;default=0"`
}

// RepoVisual tunes the screenshot comparison.
type RepoVisual struct {
	Threshold       float64 `yaml:"threshold" doc:"Per-pixel colour difference (0 to 1) below which two pixels count as equal." schema:"minimum=0;maximum=1;default=0.1"`
	MaxChangedRatio float64 `yaml:"max_changed_ratio" doc:"Share of differing pixels (0 to 1) still counted as no visual change." schema:"minimum=0;maximum=1;default=0"`
}

// RepoGenerate configures site generation.
type RepoGenerate struct {
	DispatchType string        `yaml:"dispatch_type" doc:"The repository_dispatch event type that means the content changed, such as content-changed."`
	Workflow     string        `yaml:"workflow" doc:"File name of the workflow (in .github/workflows) that builds the site and pushes the candidate branch."`
	Debounce     time.Duration `yaml:"debounce" doc:"Content changes within this time of each other start one build. Default: 30s."`
}

// RepoCommands configures slash-commands.
type RepoCommands struct {
	ShortForm *bool `yaml:"short_form" doc:"Accept the short form (/promote staging) besides the long form (/hoist promote staging), which always works. Default: true." schema:"default=true"`
}

// ShortFormEnabled reports whether /promote (without /hoist) is a command.
func (c RepoCommands) ShortFormEnabled() bool { return c.ShortForm == nil || *c.ShortForm }

// RepoPos is a place in the file: line and column, counted from 1.
type RepoPos struct {
	Line, Column int
}

// Position returns where the value at path was written, such as
// "environments.staging.gates.soak" or "tags[0].pattern"; when that key is
// absent it falls back to its nearest written parent, and to 1:1.
func (c *RepoConfig) Position(path string) RepoPos {
	return repoLookupPos(c.pos, path)
}

// The defaults that are not the zero value.
const (
	// RepoDefaultPermission is the permission an environment needs when it
	// names none.
	RepoDefaultPermission = "write"
	// RepoDefaultBudgetWindow and RepoDefaultBudgetMinSamples are a
	// failure budget's window and least sample count when it names none.
	RepoDefaultBudgetWindow     = "30d"
	RepoDefaultBudgetMinSamples = 20
	// RepoDefaultDebounce is generate.debounce when unset.
	RepoDefaultDebounce = 30 * time.Second
	// RepoDefaultVisualThreshold is smoke.visual.threshold when unset.
	RepoDefaultVisualThreshold = 0.1
	// RepoDefaultEditionPath is editions.path when unset.
	RepoDefaultEditionPath = "/editions/{edition}/"
	// RepoDefaultEditionGrace is editions.grace when unset.
	RepoDefaultEditionGrace = time.Hour
)

// RepoFailOnKinds are the finding kinds smoke.fail_on accepts, in report
// order; they are the kinds the smoke runner reports.
var RepoFailOnKinds = []string{"http_error", "console_error", "failed_request", "blocked_request", "exception", "slow", "missing_text", "missing_selector"}

// RepoPermissions are the permission names, weakest first, as GitHub names
// its repository roles.
var RepoPermissions = []string{"read", "triage", "write", "maintain", "admin"}
