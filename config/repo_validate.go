package config

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// repoValidator checks the rules that span fields, after decoding. Each
// message names the value's place through the recorded positions.
type repoValidator struct {
	cfg  *RepoConfig
	errs RepoConfigErrors
	bad  map[string]bool
}

func (v *repoValidator) errorf(at, format string, args ...any) {
	if v.bad[at] {
		return // already reported as unreadable
	}
	v.errs = append(v.errs, v.cfg.ErrorAt(at, format, args...))
}

func (v *repoValidator) written(path string) bool {
	return v.cfg.Written(path)
}

// ErrorAt is a mistake about the value at the key path at
// (environments.staging.deploy.target), placed at the line and column
// where the file wrote it, or its nearest written parent. Checks made
// elsewhere, such as the server's on the targets a repository names,
// report through it so that every message points into the file alike.
func (c *RepoConfig) ErrorAt(at, format string, args ...any) *RepoConfigError {
	p := repoLookupPos(c.pos, at)
	return &RepoConfigError{File: c.File, Line: p.Line, Column: p.Column, Path: at, Message: fmt.Sprintf(format, args...)}
}

// Written reports whether the file wrote a value at the key path.
func (c *RepoConfig) Written(path string) bool {
	_, ok := c.pos[path]
	return ok
}

// Limits of values that are checked beyond their type.
const (
	repoMaxSoak     = 30 * 24 * time.Hour
	repoMaxDebounce = 24 * time.Hour
	repoMaxGrace    = 30 * 24 * time.Hour
)

var (
	// Environment names appear in commands (/promote staging), deployment
	// names and check run titles, so they are one word.
	repoEnvName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// Server config entry names (deploy targets, CDNs).
	repoEntryName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// A team slug, optionally with its organization and a leading @.
	// repoAppSlug is a GitHub App's slug as check runs carry it.
	repoAppSlug = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)
	// repoLogin is a GitHub login; an app's bot account ends in [bot].
	repoLogin = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(\[bot\])?$`)
	repoTeam  = regexp.MustCompile(`^@?([A-Za-z0-9][A-Za-z0-9-]*/)?[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	// repository_dispatch event types are free text up to 100 characters;
	// hoist keeps them to one printable word.
	repoDispatchType = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$`)
	repoWorkflowFile = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$`)
)

func (v *repoValidator) validate() {
	c := v.cfg
	switch {
	case !v.written("version"):
		v.errorf("", "missing `version: %d` at the top of the file", RepoConfigVersion)
	case c.Version != RepoConfigVersion:
		v.errorf("version", "version %d is not supported; this hoist reads version %d", c.Version, RepoConfigVersion)
	}
	v.site()
	branchOf := v.environments()
	v.chains()
	v.candidates(branchOf)
	v.tags()
	v.smoke()
	v.generate()
	v.publish()
	v.fleet()
	v.editions(branchOf)
	v.releaseGroup()
}

// repoFullName is a repository as owner/name.
var repoFullName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

// releaseGroup checks the group's own shape; whether this repository may
// be in it is the server's to say (it knows the repository's name and the
// groups it declares).
func (v *repoValidator) releaseGroup() {
	g := v.cfg.ReleaseGroup
	if !v.written("release_group") {
		return
	}
	if !repoEntryName.MatchString(g.Name) {
		v.errorf("release_group.name", "release group name %q must be one word of letters, digits, '.', '_' or '-'", g.Name)
	}
	if !g.Declared() {
		if len(g.Environments) > 0 {
			v.errorf("release_group.environments", "environments of a group need its members too; with only a name the group is the server configuration's")
		}
		return
	}
	v.uniqueNonEmpty("release_group.members", "member", g.Members, func(m string) string {
		if !repoFullName.MatchString(m) {
			return fmt.Sprintf("member %q must be a repository as owner/name", m)
		}
		return ""
	})
	if len(g.Members) < 2 {
		v.errorf("release_group.members", "a release group needs at least two members")
	}
	if len(g.Environments) == 0 {
		v.errorf("release_group", "a release group needs environments: the environments its members release together")
	}
	v.uniqueNonEmpty("release_group.environments", "environment", g.Environments, func(e string) string {
		if _, ok := v.cfg.Environments.Get(e); !ok {
			return "release group environment " + v.unknownEnv(e)
		}
		return ""
	})
}

func (v *repoValidator) site() {
	if r := v.cfg.Site.Root; r != "" {
		if msg := repoRelativePath(r); msg != "" {
			v.errorf("site.root", "site.root %s", msg)
		}
	}
}

// repoRelativePath explains why p is not a clean relative folder, or "".
func repoRelativePath(p string) string {
	switch {
	case strings.HasPrefix(p, "/"):
		return fmt.Sprintf("must be relative to the repository root: write %q", strings.TrimLeft(p, "/"))
	case p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.."):
		return fmt.Sprintf("%q leaves the repository", p)
	case strings.ContainsAny(p, "\\\x00"):
		return fmt.Sprintf("%q: use / to separate folders", p)
	}
	return ""
}

// environments checks each environment on its own and that branches are
// unique; it returns the branch of each environment (defaults included).
func (v *repoValidator) environments() map[string]string {
	c := v.cfg
	branchOf := map[string]string{}
	ownerOf := map[string]string{} // branch → environment
	type place struct{ target, prefix string }
	deployed := map[place]string{}
	for _, e := range c.Environments {
		at := "environments." + e.Name
		if !repoEnvName.MatchString(e.Name) {
			v.errorf(at+".@key", "environment name %q must be one word of letters, digits, '.', '_' or '-' (at most 64), starting with a letter or digit", e.Name)
		}
		branch := e.Branch
		if branch == "" {
			branch = e.Name
		}
		branchOf[e.Name] = branch
		if e.Branch != "" {
			if msg := repoBranchName(e.Branch); msg != "" {
				v.errorf(at+".branch", "branch %s", msg)
			}
		}
		if other, dup := ownerOf[branch]; dup {
			where := at + ".branch"
			if e.Branch == "" {
				where = at + ".@key"
			}
			v.errorf(where, "branch %q is already the branch of environment %s; each environment needs its own branch", branch, other)
		} else {
			ownerOf[branch] = e.Name
		}
		if e.PromoteFrom != "" {
			if e.PromoteFrom == e.Name {
				v.errorf(at+".promote_from", "environment %s cannot be promoted from itself", e.Name)
			} else if _, ok := c.Environments.Get(e.PromoteFrom); !ok {
				v.errorf(at+".promote_from", "promote_from names %s", v.unknownEnv(e.PromoteFrom))
			}
		}
		if e.Permission != "" && !repoContains(RepoPermissions, e.Permission) {
			msg := fmt.Sprintf("permission %q is not one of read, triage, write, maintain, admin", e.Permission)
			if s := repoSuggest(e.Permission, RepoPermissions); s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			}
			v.errorf(at+".permission", "%s", msg)
		}
		v.uniqueNonEmpty(at+".teams", "team", e.Teams, func(t string) string {
			if !repoTeam.MatchString(t) {
				return fmt.Sprintf("team %q is not a team slug (such as web-team or my-org/web-team)", t)
			}
			return ""
		})
		v.gates(at+".gates", e.Gates)
		v.deploy(at+".deploy", e)
		if e.FailureBudget != nil {
			v.failureBudget(at+".failure_budget", *e.FailureBudget)
		}
		if e.Deploy.Target != "" {
			prefix := e.Deploy.Prefix
			if prefix == "" {
				prefix = e.Name + "/"
			}
			p := place{e.Deploy.Target, strings.Trim(prefix, "/")}
			if other, dup := deployed[p]; dup {
				v.errorf(at+".deploy.prefix", "environments %s and %s would both deploy to %s at prefix %q; give each its own prefix", other, e.Name, e.Deploy.Target, prefix)
			} else {
				deployed[p] = e.Name
			}
		}
		v.verify(at+".verify", e)
		seenCDN := map[string]bool{}
		for i, p := range e.Purge {
			pat := fmt.Sprintf("%s.purge[%d]", at, i)
			switch {
			case p.CDN == "":
				v.errorf(pat, "each purge entry needs cdn: the name of a CDN in the server configuration")
			case !repoEntryName.MatchString(p.CDN):
				v.errorf(pat+".cdn", "cdn %q must be the name of a CDN in the server configuration (letters, digits, '.', '_', '-')", p.CDN)
			case seenCDN[p.CDN]:
				v.errorf(pat+".cdn", "cdn %s is listed twice for environment %s", p.CDN, e.Name)
			}
			seenCDN[p.CDN] = true
			for j, pth := range p.Paths {
				if !strings.HasPrefix(pth, "/") {
					v.errorf(fmt.Sprintf("%s.paths[%d]", pat, j), "purge path %q must start with /", pth)
				}
			}
			v.uniqueNonEmpty(pat+".keys", "surrogate key", p.Keys, func(k string) string {
				if strings.ContainsAny(k, " \t\r\n") {
					return fmt.Sprintf("surrogate key %q must not contain spaces", k)
				}
				return ""
			})
		}
	}
	return branchOf
}

func (v *repoValidator) unknownEnv(name string) string {
	names := v.cfg.Environments.Names()
	msg := fmt.Sprintf("%q, which is not an environment", name)
	if s := repoSuggest(name, names); s != "" {
		return msg + fmt.Sprintf("; did you mean %s?", s)
	}
	if len(names) == 0 {
		return msg + " (none are defined)"
	}
	return msg + " (environments: " + strings.Join(names, ", ") + ")"
}

func (v *repoValidator) gates(at string, g RepoGates) {
	names := make([]string, len(g.Checks))
	for i, c := range g.Checks {
		names[i] = c.Name
		ip := fmt.Sprintf("%s.checks[%d]", at, i)
		if _, err := path.Match(c.Name, ""); err != nil {
			v.errorf(ip+".name", "check %q is not a valid glob (unclosed [ or a trailing \\); write \\[ for a literal [", c.Name)
		}
		if c.App != "" && !repoAppSlug.MatchString(c.App) {
			v.errorf(ip+".app", "app %q must be a GitHub App's slug (lower-case letters, digits and -), such as github-actions", c.App)
		}
		if c.Creator != "" && !repoLogin.MatchString(c.Creator) {
			v.errorf(ip+".creator", "creator %q must be a GitHub login, such as ci-bot or my-app[bot]", c.Creator)
		}
	}
	v.uniqueNonEmpty(at+".checks", "check", names, nil)
	switch {
	case g.Soak < 0:
		v.errorf(at+".soak", "soak must not be negative")
	case g.Soak > repoMaxSoak:
		v.errorf(at+".soak", "soak %s is longer than 30 days (720h)", repoFormatDuration(g.Soak))
	}
	if g.Approvals < 0 || g.Approvals > 20 {
		v.errorf(at+".approvals", "approvals must be between 0 and 20, got %d", g.Approvals)
	}
}

func (v *repoValidator) deploy(at string, e RepoEnvironment) {
	d := e.Deploy
	if d.Target != "" && !repoEntryName.MatchString(d.Target) {
		v.errorf(at+".target", "target %q must be the name of a deploy target in the server configuration (letters, digits, '.', '_', '-')", d.Target)
	}
	if d.Prefix != "" {
		if d.Target == "" {
			v.errorf(at+".prefix", "prefix needs a target to be a folder of")
		} else if msg := CheckRelPrefix(d.Prefix); msg != "" {
			// The prefix is placed under the repository's own folder of
			// the target; nothing may lead out of it.
			v.errorf(at+".prefix", "prefix %s", msg)
		}
	}
	if d.URL != "" {
		u, err := url.Parse(d.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.errorf(at+".url", "url %q must be an absolute http(s) URL such as https://staging.example.com/", d.URL)
		}
	}
}

func (v *repoValidator) verify(at string, e RepoEnvironment) {
	vf := e.Verify
	if vf == nil {
		return
	}
	if e.Deploy.Target == "" {
		v.errorf(at, "verify checks the site after hoist deployed it: it needs deploy.target")
	}
	if vf.URL == "" {
		if e.Deploy.URL == "" {
			v.errorf(at, "verify needs a URL to check: set verify.url or deploy.url")
		}
		return
	}
	u, err := url.Parse(vf.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.errorf(at+".url", "url %q must be an absolute http(s) URL such as https://staging.example.com/", vf.URL)
	}
}

// chains reports every promotion cycle once, at the environment of the
// cycle that the file lists first.
func (v *repoValidator) chains() {
	c := v.cfg
	reported := map[string]bool{}
	for _, start := range c.Environments {
		seen := map[string]int{}
		var walk []string
		for name := start.Name; name != ""; {
			if i, loop := seen[name]; loop {
				cycle := walk[i:]
				if cycle[0] == start.Name && !reported[start.Name] {
					for _, n := range cycle {
						reported[n] = true
					}
					// In promotion order, starting at this environment.
					order := append([]string{start.Name}, repoReversed(cycle[1:])...)
					v.errorf("environments."+start.Name+".promote_from", "promotion cycle: %s → %s; a chain must start at an environment with no promote_from",
						strings.Join(order, " → "), start.Name)
				}
				break
			}
			seen[name] = len(walk)
			walk = append(walk, name)
			e, ok := c.Environments.Get(name)
			if !ok || e.PromoteFrom == e.Name {
				break
			}
			name = e.PromoteFrom
		}
	}
}

func repoReversed(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}

func (v *repoValidator) candidates(branchOf map[string]string) {
	envOfBranch := map[string]string{}
	for env, b := range branchOf {
		envOfBranch[b] = env
	}
	seen := map[string]int{}
	for i, cd := range v.cfg.Candidates {
		at := fmt.Sprintf("candidates[%d]", i)
		switch {
		case cd.From == "":
			v.errorf(at, "a candidate needs from: the branch the site build pushes to, such as pre-staging")
		case repoBranchName(cd.From) != "":
			v.errorf(at+".from", "from: branch %s", repoBranchName(cd.From))
		case envOfBranch[cd.From] != "":
			v.errorf(at+".from", "from: branch %q is the branch of environment %s; a candidate branch must be a branch of its own (such as pre-%s)", cd.From, envOfBranch[cd.From], cd.To)
		default:
			if j, dup := seen[cd.From]; dup {
				v.errorf(at+".from", "from: branch %q is already the candidate branch of candidates[%d]", cd.From, j)
			} else {
				seen[cd.From] = i
			}
		}
		if cd.To == "" {
			v.errorf(at, "a candidate needs to: the environment it is promoted into")
		} else if _, ok := v.cfg.Environments.Get(cd.To); !ok {
			v.errorf(at+".to", "to names %s", v.unknownEnv(cd.To))
		}
	}
}

func (v *repoValidator) tags() {
	seen := map[string]int{}
	for i, t := range v.cfg.Tags {
		at := fmt.Sprintf("tags[%d]", i)
		switch {
		case t.Pattern == "":
			v.errorf(at, "a tag rule needs pattern: a glob such as web-* or v*.*.*")
		case strings.HasPrefix(t.Pattern, "refs/"):
			v.errorf(at+".pattern", "pattern is matched against the tag name: write %q", strings.TrimPrefix(strings.TrimPrefix(t.Pattern, "refs/"), "tags/"))
		default:
			if _, err := path.Match(t.Pattern, ""); err != nil {
				v.errorf(at+".pattern", "pattern %q is not a valid glob (unclosed [ or a trailing \\)", t.Pattern)
			} else if j, dup := seen[t.Pattern]; dup {
				v.errorf(at+".pattern", "pattern %q is already the pattern of tags[%d]", t.Pattern, j)
			} else {
				seen[t.Pattern] = i
			}
		}
		if t.Promote == "" {
			v.errorf(at, "a tag rule needs promote: the environment the tagged commit is promoted to")
		} else if _, ok := v.cfg.Environments.Get(t.Promote); !ok {
			v.errorf(at+".promote", "promote names %s", v.unknownEnv(t.Promote))
		}
	}
}

func (v *repoValidator) smoke() {
	s := v.cfg.Smoke
	names := map[string]int{}
	for i, vp := range s.Viewports {
		at := fmt.Sprintf("smoke.viewports[%d]", i)
		if vp.Name == "" {
			v.errorf(at, "a viewport needs a name, such as desktop or mobile")
		} else if j, dup := names[vp.Name]; dup {
			v.errorf(at+".name", "viewport name %q is already used by smoke.viewports[%d]", vp.Name, j)
		} else {
			names[vp.Name] = i
		}
		if vp.Width < 200 || vp.Width > 7680 {
			v.errorf(at+".width", "width must be between 200 and 7680 CSS pixels, got %d", vp.Width)
		}
		if vp.Height < 200 || vp.Height > 4320 {
			v.errorf(at+".height", "height must be between 200 and 4320 CSS pixels, got %d", vp.Height)
		}
	}
	paths := map[string]int{}
	for i, p := range s.Pages {
		at := fmt.Sprintf("smoke.pages[%d]", i)
		switch {
		case p.Path == "":
			v.errorf(at, "a page needs a path, such as /")
		case !strings.HasPrefix(p.Path, "/") || strings.HasPrefix(p.Path, "//"):
			v.errorf(at+".path", "path %q must start with a single / (the site's own pages only)", p.Path)
		default:
			if j, dup := paths[p.Path]; dup {
				v.errorf(at+".path", "page %q is already listed as smoke.pages[%d]", p.Path, j)
			} else {
				paths[p.Path] = i
			}
		}
		if p.MaxLoadMS < 0 || p.MaxLoadMS > 120000 {
			v.errorf(at+".max_load_ms", "max_load_ms must be between 0 and 120000, got %d", p.MaxLoadMS)
		}
	}
	if s.Crawl.MaxPages < 0 || s.Crawl.MaxPages > 10000 {
		v.errorf("smoke.crawl.max_pages", "max_pages must be between 0 and 10000, got %d", s.Crawl.MaxPages)
	}
	v.uniqueNonEmpty("smoke.fail_on", "kind", s.FailOn, func(k string) string {
		if repoContains(RepoFailOnKinds, k) {
			return ""
		}
		msg := fmt.Sprintf("unknown finding kind %q", k)
		if sug := repoSuggest(k, RepoFailOnKinds); sug != "" {
			return msg + fmt.Sprintf("; did you mean %s?", sug)
		}
		return msg + " (kinds: " + strings.Join(RepoFailOnKinds, ", ") + ")"
	})
	if t := s.Visual.Threshold; t < 0 || t > 1 {
		v.errorf("smoke.visual.threshold", "threshold must be between 0 and 1, got %g", t)
	}
	if r := s.Visual.MaxChangedRatio; r < 0 || r > 1 {
		v.errorf("smoke.visual.max_changed_ratio", "max_changed_ratio must be between 0 and 1 (a share of the pixels), got %g", r)
	}
}

func (v *repoValidator) generate() {
	g := v.cfg.Generate
	if g.DispatchType != "" && !repoDispatchType.MatchString(g.DispatchType) {
		v.errorf("generate.dispatch_type", "dispatch_type %q must be one word (letters, digits, '.', '_', ':', '/', '-'), at most 100 characters", g.DispatchType)
	}
	if g.Workflow != "" && !repoWorkflowFile.MatchString(g.Workflow) {
		v.errorf("generate.workflow", "workflow %q must be the file name of a workflow in .github/workflows, such as build-site.yml", g.Workflow)
	}
	if g.DispatchType != "" && g.Workflow == "" {
		v.errorf("generate.dispatch_type", "dispatch_type needs workflow: the workflow that builds the site")
	}
	switch {
	case g.Debounce < 0:
		v.errorf("generate.debounce", "debounce must not be negative")
	case g.Debounce > repoMaxDebounce:
		v.errorf("generate.debounce", "debounce %s is longer than 24h", repoFormatDuration(g.Debounce))
	}
}

// uniqueNonEmpty checks a list of names: none empty, none twice, and each
// passing check (when given).
func (v *repoValidator) uniqueNonEmpty(at, what string, items []string, check func(string) string) {
	seen := map[string]int{}
	for i, s := range items {
		ip := fmt.Sprintf("%s[%d]", at, i)
		if strings.TrimSpace(s) == "" {
			v.errorf(ip, "%s name must not be empty", what)
			continue
		}
		if j, dup := seen[s]; dup {
			v.errorf(ip, "%s %q is listed twice (also at %s[%d])", what, s, at, j)
			continue
		}
		seen[s] = i
		if check != nil {
			if msg := check(s); msg != "" {
				v.errorf(ip, "%s", msg)
			}
		}
	}
}

func repoContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// repoBranchName explains why name is not a valid branch name, or "". The
// rules are git check-ref-format's, plus no refs/ prefix: the file names
// branches, not refs.
func repoBranchName(name string) string {
	switch {
	case strings.HasPrefix(name, "refs/"):
		return fmt.Sprintf("%q: write the branch name without refs/heads/, such as %q", name, strings.TrimPrefix(strings.TrimPrefix(name, "refs/"), "heads/"))
	case strings.HasPrefix(name, "-"):
		return fmt.Sprintf("%q must not start with -", name)
	case name == "@" || strings.Contains(name, "@{"):
		return fmt.Sprintf("%q: @ alone and @{ are not allowed in branch names", name)
	case strings.Contains(name, ".."):
		return fmt.Sprintf("%q must not contain ..", name)
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return fmt.Sprintf("%q must not start or end with / or contain //", name)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, ".lock"):
		return fmt.Sprintf("%q must not end with . or .lock", name)
	case len(name) > 255:
		return "is longer than 255 characters"
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return fmt.Sprintf("%q must not contain spaces, control characters or any of ~ ^ : ? * [ \\", name)
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return fmt.Sprintf("%q: no part may start with . or end with .lock", name)
		}
	}
	return ""
}

// editions checks the editions section: branch globs, the target, a path
// template that stays inside the repository's folder, the site's address,
// the grace period and the names given to branches.
func (v *repoValidator) editions(branchOf map[string]string) {
	e := v.cfg.Editions
	const at = "editions"
	v.uniqueNonEmpty(at+".branches", "branch pattern", e.Branches, func(g string) string {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Sprintf("branch pattern %q is not a valid glob (unclosed [ or a trailing \\)", g)
		}
		if strings.HasPrefix(g, "refs/") {
			return fmt.Sprintf("branch pattern %q is matched against the branch name: write it without refs/heads/", g)
		}
		return ""
	})
	switch {
	case e.Target == "" && e.Enabled():
		v.errorf(at, "editions need target: the name of a deploy target in the server configuration")
	case e.Target != "" && !repoEntryName.MatchString(e.Target):
		v.errorf(at+".target", "target %q must be the name of a deploy target in the server configuration (letters, digits, '.', '_', '-')", e.Target)
	}
	if e.Path != "" {
		if msg := EditionPathProblem(e.Path); msg != "" {
			v.errorf(at+".path", "path %s", msg)
		} else if e.Target != "" {
			// An edition never lands in an environment's folder of the
			// same target, nor an environment in an edition's.
			probe := strings.ReplaceAll(strings.TrimPrefix(e.Path, "/"), "{edition}", "x")
			fixed := strings.SplitN(probe, "x", 2)[0]
			for _, env := range v.cfg.Environments {
				if env.Deploy.Target != e.Target || fixed == "" {
					continue
				}
				p := strings.TrimSuffix(env.Deploy.Prefix, "/") + "/"
				if env.Deploy.Prefix == "" {
					p = env.Name + "/"
				}
				if strings.HasPrefix(p, fixed) || strings.HasPrefix(fixed, p) {
					v.errorf(at+".path", "path %q would place editions in or over the folder %q of environment %s; give editions a folder of their own", e.Path, p, env.Name)
				}
			}
		}
	}
	if e.URL != "" {
		u, err := url.Parse(e.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			v.errorf(at+".url", "url %q must be the site's address alone, such as https://docs.example.com (the path comes from path)", e.URL)
		}
	}
	switch {
	case e.Grace < 0:
		v.errorf(at+".grace", "grace must not be negative")
	case e.Grace > repoMaxGrace:
		v.errorf(at+".grace", "grace %s is longer than 30 days (720h)", repoFormatDuration(e.Grace))
	}
	envOfBranch := map[string]string{}
	for env, b := range branchOf {
		envOfBranch[b] = env
	}
	branches, names := map[string]int{}, map[string]int{}
	for i, n := range e.Names {
		ip := fmt.Sprintf("%s.names[%d]", at, i)
		switch {
		case n.Branch == "":
			v.errorf(ip, "each name needs branch: the branch whose edition it names")
		case repoBranchName(n.Branch) != "":
			v.errorf(ip+".branch", "branch %s", repoBranchName(n.Branch))
		case envOfBranch[n.Branch] != "":
			v.errorf(ip+".branch", "branch %q is the branch of environment %s, which is not an edition", n.Branch, envOfBranch[n.Branch])
		default:
			if j, dup := branches[n.Branch]; dup {
				v.errorf(ip+".branch", "branch %q is already named by %s.names[%d]", n.Branch, at, j)
			}
			branches[n.Branch] = i
		}
		switch {
		case n.Name == "":
			v.errorf(ip, "each name needs name: the edition's name")
		case EditionSegment(n.Name) != n.Name || len(n.Name) > maxEditionSegment:
			v.errorf(ip+".name", "name %q must be one folder name of lower-case letters, digits, '.', '_' and '-' (at most 63), such as %q", n.Name, EditionSegment(n.Name))
		case EditionIsPull(n.Name):
			v.errorf(ip+".name", "name %q is how pull request editions are named; choose another", n.Name)
		default:
			if j, dup := names[n.Name]; dup {
				v.errorf(ip+".name", "edition name %q is already given by %s.names[%d]", n.Name, at, j)
			}
			names[n.Name] = i
		}
	}
}

// RepoMaxBudgetWindow is the longest failure budget window (a year): the
// outcomes of a window are read at every promotion.
const RepoMaxBudgetWindow = 366 * 24 * time.Hour

func (v *repoValidator) failureBudget(at string, b RepoFailureBudget) {
	if b.Rate == "" {
		v.errorf(at, "failure_budget needs rate: the largest share of failures accepted, such as 5%%")
	} else if _, err := ParseBudgetRate(b.Rate); err != nil {
		v.errorf(at+".rate", "%s", err)
	}
	if b.Window != "" {
		if _, err := ParseBudgetWindow(b.Window); err != nil {
			v.errorf(at+".window", "%s", err)
		}
	}
	if v.written(at+".min_samples") && (b.MinSamples < 1 || b.MinSamples > 100000) {
		v.errorf(at+".min_samples", "min_samples must be between 1 and 100000, got %d", b.MinSamples)
	}
	if b.OnExhausted != "" && b.OnExhausted != "pr" && b.OnExhausted != "hold" {
		v.errorf(at+".on_exhausted", "on_exhausted %q must be pr (wait for a person) or hold (refuse until the rate recovers)", b.OnExhausted)
	}
}

// ParseBudgetRate reads a failure budget rate such as "5%" or "0.5%" as a
// fraction (0.05, 0.005).
func ParseBudgetRate(s string) (float64, error) {
	num, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	if !ok || !repoBareNumber.MatchString(num) {
		return 0, fmt.Errorf("rate %q must be a percentage such as 5%% or 0.5%%", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f > 100 {
		return 0, fmt.Errorf("rate %q must be a percentage between 0%% and 100%%", s)
	}
	return f / 100, nil
}

// ParseBudgetWindow reads a failure budget window such as "30d" or "12h".
func ParseBudgetWindow(s string) (time.Duration, error) {
	bad := fmt.Errorf("window %q must be a number of days or hours such as 30d, 7d or 12h", s)
	if len(s) < 2 {
		return 0, bad
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, bad
	}
	var d time.Duration
	switch s[len(s)-1] {
	case 'd':
		d = time.Duration(n) * 24 * time.Hour
	case 'h':
		d = time.Duration(n) * time.Hour
	default:
		return 0, bad
	}
	if d > RepoMaxBudgetWindow {
		return 0, fmt.Errorf("window %s is longer than a year (366d)", s)
	}
	return d, nil
}
