package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// A fleet is one product run as many instances, one per customer. The
// repository config describes the template every instance follows: its two
// branches, where each stage is deployed, the hostnames, the gates and the
// schema of the per-instance settings. The instances themselves (names,
// plans, settings) live in hoist's database, not in git.

// FleetStageNames are the two stages of every instance: the staging stage
// (branch dev-{name}) is upgraded first, production ({name}) after it.
var FleetStageNames = []string{FleetStaging, FleetProduction}

// The stage names, as they appear in deployments, the API and the store.
const (
	FleetStaging    = "staging"
	FleetProduction = "production"
)

// Fleet defaults.
const (
	FleetDefaultProductionBranch = "{name}"
	FleetDefaultStagingBranch    = "dev-{name}"
	// The production stage is published to {name}/ and the staging stage
	// to a sibling folder dev-{name}/, never inside {name}/: a deploy owns
	// its whole prefix and removes files it did not write, so nesting one
	// stage in the other would delete the other's files. Names starting
	// with dev- are reserved for the same reason.
	FleetDefaultProductionPrefix = "{name}/"
	FleetDefaultStagingPrefix    = "dev-{name}/"
	FleetDefaultSettingsFile     = "hoist-settings.json"
	FleetDefaultTrialDays        = 14
	FleetDefaultTrialWarn        = 3 * 24 * time.Hour
	FleetDefaultDeletionGrace    = 7 * 24 * time.Hour
	FleetDefaultRolloutWave      = 10
	FleetDefaultMaxFailures      = "10%"
	// FleetMaxRolloutWave bounds a wave: every instance of a wave moves
	// its branches at once, and GitHub paces writes per installation.
	FleetMaxRolloutWave = 100
)

// FleetReservedNames can never name an instance, whatever the repository
// adds in fleet.reserved: they are hostnames people expect to be the
// vendor's own. Names starting with dev- are refused too (see
// FleetDefaultStagingPrefix).
var FleetReservedNames = []string{"www", "api", "admin", "app", "mail", "smtp", "ftp", "ns1", "ns2", "dev", "stg", "staging", "production", "prod", "hoist", "status", "static", "assets", "cdn"}

// RepoFleet is the template of a fleet's instances.
type RepoFleet struct {
	Release    RepoFleetRelease  `yaml:"release" doc:"The release every instance follows: new instances start at its current commit and a new release is rolled out to every instance. Exactly one of branch or tags."`
	Staging    RepoFleetStage    `yaml:"staging" doc:"The staging stage of each instance (branch dev-{name} by default), deployed and upgraded first."`
	Production RepoFleetStage    `yaml:"production" doc:"The production stage of each instance (branch {name} by default), upgraded after its staging stage passed."`
	Target     string            `yaml:"target" doc:"Name of the deploy target in the server configuration that holds every instance's folders." schema:"required"`
	Settings   RepoFleetSettings `yaml:"settings" doc:"Per-instance settings: kept in hoist's database, checked against the schema and written as a file into each deployed stage (never committed)."`
	Trial      RepoFleetTrial    `yaml:"trial" doc:"Trial instances: how long they run before they are suspended."`
	Reserved   []string          `yaml:"reserved" doc:"Names no instance may take, in addition to hoist's own list (www, api, admin, dev, … and every name starting with dev-)."`
	Permission string            `yaml:"permission" doc:"Least repository permission a signed-in person needs to launch instances and change their settings from the dashboard." schema:"enum=$permissions;default=maintain"`
	Rollout    RepoFleetRollout  `yaml:"rollout" doc:"How a new release reaches every instance: the canaries first, then waves, stopping when too many instances failed."`

	// Defined is true when the file has a fleet section.
	Defined bool `yaml:"-"`
}

// RepoFleetRelease names the release instances follow.
type RepoFleetRelease struct {
	Branch string `yaml:"branch" doc:"The release branch, such as main: its head is the current release."`
	Tags   string `yaml:"tags" doc:"Glob over tag names, such as v*: the newest matching tag is the current release."`
}

// RepoFleetStage is one stage of every instance.
type RepoFleetStage struct {
	Branch string      `yaml:"branch" doc:"The stage's branch, a template holding {name}. Default: {name} for production, dev-{name} for staging."`
	Prefix string      `yaml:"prefix" doc:"Folder of the target the stage is published to, a template holding {name}. Default: {name}/ for production, dev-{name}/ for staging (a sibling, never inside the production folder)."`
	Host   string      `yaml:"host" doc:"Public hostname of the stage, a template holding {name}, such as {name}.example.com or stg-{name}.example.com; used for the deployment's URL and the optional DNS record."`
	Gates  RepoGates   `yaml:"gates" doc:"What must hold before a release is deployed to this stage (the gates of environments)."`
	Purge  []RepoPurge `yaml:"purge" doc:"CDNs purged after the stage changed: what a deploy changed, or only the settings file after a settings change."`
}

// RepoFleetSettings describes the settings of an instance.
type RepoFleetSettings struct {
	File   string             `yaml:"file" doc:"Path of the settings file written into each deployed stage, from the stage's folder. Default: hoist-settings.json (served as /hoist-settings.json)." schema:"default=hoist-settings.json"`
	Schema RepoSettingsSchema `yaml:"schema" doc:"JSON Schema of the settings, a subset: type, properties, required, default, enum, pattern, items, minimum, maximum, minLength, maxLength, additionalProperties (true or false), title and description. The top level is an object."`
}

// RepoFleetTrial bounds trial instances.
type RepoFleetTrial struct {
	Days        int           `yaml:"days" doc:"Days a trial instance runs before it is suspended (its maintenance page is served; nothing is deleted)." schema:"minimum=1;maximum=365;default=14"`
	Warn        time.Duration `yaml:"warn" doc:"How long before the end of a trial its owner is warned (audit entry and log). Default: 72h."`
	DeleteGrace time.Duration `yaml:"delete_grace" doc:"How long a deleted instance's data is kept before it is purged. Default: 168h."`
}

// RepoFleetRollout is the plan every rollout of a release follows.
type RepoFleetRollout struct {
	Canaries    []string `yaml:"canaries" doc:"Instances upgraded first, alone in their own wave, in this order; the other instances wait until they ended. Names that are not live instances when the release comes are skipped (and logged)."`
	Wave        int      `yaml:"wave" doc:"How many instances upgrade at once after the canaries; each wave starts once the previous one ended." schema:"minimum=1;maximum=100;default=10"`
	MaxFailures string   `yaml:"max_failures" doc:"Share of all instances that may fail before the rollout stops, as a percentage such as 10%: once more failed, instances already running finish and the others are not started. 0% stops at the first failure, 100% never stops." schema:"pattern=^[0-9]+(\\.[0-9]+)?%$;default=10%"`

	// MaxFailuresValue is MaxFailures read as a fraction (0.1 for 10%),
	// set once the file is valid.
	MaxFailuresValue float64 `yaml:"-"`
}

// Expand replaces {name} in a template.
func FleetExpand(template, name string) string {
	return strings.ReplaceAll(template, "{name}", name)
}

// Stage returns the stage called name (FleetStaging or FleetProduction).
func (f RepoFleet) Stage(name string) (RepoFleetStage, bool) {
	switch name {
	case FleetStaging:
		return f.Staging, true
	case FleetProduction:
		return f.Production, true
	}
	return RepoFleetStage{}, false
}

// fleetName is a DNS label: lower-case letters, digits and hyphens, at
// most 63, starting with a letter and not ending with a hyphen. Starting
// with a letter keeps names apart from numbers in URLs and commands.
var fleetName = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// CheckInstanceName explains why name cannot name an instance of f, or
// returns "". Uniqueness is the store's to check.
func (f RepoFleet) CheckInstanceName(name string) string {
	switch {
	case name == "":
		return "an instance needs a name"
	case len(name) > 63:
		return fmt.Sprintf("instance name %q is longer than 63 characters (a DNS label)", name)
	case !fleetName.MatchString(name):
		return fmt.Sprintf("instance name %q must be a DNS label: lower-case letters, digits and '-', starting with a letter and not ending with '-'", name)
	case strings.Contains(name, "--"):
		return fmt.Sprintf("instance name %q must not contain '--' (reserved for encoded DNS names)", name)
	case strings.HasPrefix(name, "dev-"):
		return fmt.Sprintf("instance name %q is reserved: names starting with dev- are the staging branches and folders of other instances", name)
	}
	for _, r := range append(append([]string(nil), FleetReservedNames...), f.Reserved...) {
		if r == name {
			return fmt.Sprintf("instance name %q is reserved", name)
		}
	}
	return ""
}

func (v *repoValidator) fleet() {
	c := v.cfg
	if !v.written("fleet") {
		return
	}
	f := c.Fleet
	switch {
	case f.Release.Branch == "" && f.Release.Tags == "":
		v.errorf("fleet.release", "fleet.release needs branch (the release branch, such as main) or tags (a tag pattern, such as v*)")
	case f.Release.Branch != "" && f.Release.Tags != "":
		v.errorf("fleet.release.tags", "fleet.release takes branch or tags, not both")
	case f.Release.Branch != "":
		if msg := repoBranchName(f.Release.Branch); msg != "" {
			v.errorf("fleet.release.branch", "branch %s", msg)
		}
	}
	if f.Target == "" {
		if !v.bad["fleet.target"] {
			v.errorf("fleet", "fleet needs target: the name of a deploy target in the server configuration")
		}
	} else if !repoEntryName.MatchString(f.Target) {
		v.errorf("fleet.target", "target %q must be the name of a deploy target in the server configuration (letters, digits, '.', '_', '-')", f.Target)
	}
	branches := map[string]string{}
	prefixes := map[string]string{}
	for _, st := range FleetStageNames {
		s, _ := f.Stage(st)
		at := "fleet." + st
		branch, prefix := fleetStageDefaults(st, s)
		for _, tpl := range []struct{ key, val string }{{"branch", s.Branch}, {"prefix", s.Prefix}, {"host", s.Host}} {
			if tpl.val != "" && !strings.Contains(tpl.val, "{name}") {
				v.errorf(at+"."+tpl.key, "%s %q must contain {name}, so that each instance gets its own", tpl.key, tpl.val)
			}
		}
		if msg := repoBranchName(FleetExpand(branch, "x")); s.Branch != "" && msg != "" {
			v.errorf(at+".branch", "branch %s", msg)
		}
		if other, dup := branches[branch]; dup {
			v.errorf(at+".branch", "branch %q is already the branch of the %s stage", branch, other)
		}
		branches[branch] = st
		if msg := CheckRelPrefix(FleetExpand(prefix, "x")); msg != "" {
			v.errorf(at+".prefix", "prefix %s", msg)
		}
		p := strings.TrimSuffix(prefix, "/") + "/"
		for q, other := range prefixes {
			if strings.HasPrefix(p, q) || strings.HasPrefix(q, p) {
				v.errorf(at+".prefix", "prefix %q overlaps the %s stage's %q: a deploy removes what it did not write under its prefix", prefix, other, q)
			}
		}
		prefixes[p] = st
		if s.Host != "" {
			if u, err := url.Parse("https://" + FleetExpand(s.Host, "x") + "/"); err != nil || u.Hostname() != FleetExpand(s.Host, "x") {
				v.errorf(at+".host", "host %q must be a hostname such as {name}.example.com", s.Host)
			}
		}
		v.gates(at+".gates", s.Gates)
		seenCDN := map[string]bool{}
		for i, p := range s.Purge {
			pat := fmt.Sprintf("%s.purge[%d]", at, i)
			switch {
			case p.CDN == "":
				v.errorf(pat, "each purge entry needs cdn: the name of a CDN in the server configuration")
			case !repoEntryName.MatchString(p.CDN):
				v.errorf(pat+".cdn", "cdn %q must be the name of a CDN in the server configuration (letters, digits, '.', '_', '-')", p.CDN)
			case seenCDN[p.CDN]:
				v.errorf(pat+".cdn", "cdn %s is listed twice for the %s stage", p.CDN, st)
			}
			seenCDN[p.CDN] = true
		}
	}
	if fl := f.Settings.File; fl != "" {
		if msg := repoRelativePath(fl); msg != "" || strings.HasSuffix(fl, "/") || fl == "." {
			v.errorf("fleet.settings.file", "settings file %q must be a file path inside the stage's folder, such as hoist-settings.json", fl)
		}
	}
	if f.Permission != "" && !repoContains(RepoPermissions, f.Permission) {
		v.errorf("fleet.permission", "permission %q is not one of read, triage, write, maintain, admin", f.Permission)
	}
	for i, r := range f.Reserved {
		if !fleetName.MatchString(r) {
			v.errorf(fmt.Sprintf("fleet.reserved[%d]", i), "reserved name %q is not a DNS label (lower-case letters, digits, '-')", r)
		}
	}
	if f.Trial.Warn < 0 {
		v.errorf("fleet.trial.warn", "fleet.trial.warn must not be negative")
	}
	if f.Trial.DeleteGrace < 0 {
		v.errorf("fleet.trial.delete_grace", "fleet.trial.delete_grace must not be negative")
	}
	for _, e := range f.Settings.Schema.errs {
		v.errorf(e.at, "%s", e.msg)
	}
	v.fleetRollout(f)
}

func (v *repoValidator) fleetRollout(f RepoFleet) {
	r := f.Rollout
	seen := map[string]bool{}
	for i, c := range r.Canaries {
		at := fmt.Sprintf("fleet.rollout.canaries[%d]", i)
		switch msg := f.CheckInstanceName(c); {
		case msg != "":
			// No instance can take such a name, so it can never be a canary.
			v.errorf(at, "canary: %s", msg)
		case seen[c]:
			v.errorf(at, "canary %q is listed twice", c)
		}
		seen[c] = true
	}
	if v.written("fleet.rollout.wave") && (r.Wave < 1 || r.Wave > FleetMaxRolloutWave) {
		v.errorf("fleet.rollout.wave", "wave must be between 1 and %d instances, got %d", FleetMaxRolloutWave, r.Wave)
	}
	if r.MaxFailures != "" {
		if _, err := ParseBudgetRate(r.MaxFailures); err != nil {
			v.errorf("fleet.rollout.max_failures", "max_failures %s", strings.TrimPrefix(err.Error(), "rate "))
		}
	}
}

func fleetStageDefaults(stage string, s RepoFleetStage) (branch, prefix string) {
	branch, prefix = s.Branch, s.Prefix
	if branch == "" {
		branch = FleetDefaultProductionBranch
		if stage == FleetStaging {
			branch = FleetDefaultStagingBranch
		}
	}
	if prefix == "" {
		prefix = FleetDefaultProductionPrefix
		if stage == FleetStaging {
			prefix = FleetDefaultStagingPrefix
		}
	}
	return branch, prefix
}

func (f *RepoFleet) applyDefaults() {
	f.Defined = true
	f.Staging.Branch, f.Staging.Prefix = fleetStageDefaults(FleetStaging, f.Staging)
	f.Production.Branch, f.Production.Prefix = fleetStageDefaults(FleetProduction, f.Production)
	if f.Settings.File == "" {
		f.Settings.File = FleetDefaultSettingsFile
	}
	if f.Trial.Days == 0 {
		f.Trial.Days = FleetDefaultTrialDays
	}
	if f.Trial.Warn == 0 {
		f.Trial.Warn = FleetDefaultTrialWarn
	}
	if f.Trial.DeleteGrace == 0 {
		f.Trial.DeleteGrace = FleetDefaultDeletionGrace
	}
	if f.Permission == "" {
		f.Permission = "maintain"
	}
	if f.Rollout.Wave == 0 {
		f.Rollout.Wave = FleetDefaultRolloutWave
	}
	if f.Rollout.MaxFailures == "" {
		f.Rollout.MaxFailures = FleetDefaultMaxFailures
	}
	f.Rollout.MaxFailuresValue, _ = ParseBudgetRate(f.Rollout.MaxFailures)
	if f.Settings.Schema.Doc == nil {
		f.Settings.Schema.Doc = map[string]any{"type": "object"}
	}
}
