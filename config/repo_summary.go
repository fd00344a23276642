package config

import (
	"fmt"
	"strings"
	"time"
)

// Summary describes the pipeline in words, for `hoist config validate` and
// for the hoist/config check run: chains, what each environment needs
// before it moves, who may move it, where it is published.
func (c *RepoConfig) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: valid (version %d).\n", c.File, c.Version)
	if c.Site.Root == "." || c.Site.Root == "" {
		b.WriteString("The site is the whole branch.\n")
	} else {
		fmt.Fprintf(&b, "The site is the folder %s of each branch.\n", c.Site.Root)
	}
	if n := len(c.Deploy.Cache); n > 0 {
		rules := make([]string, n)
		for i, r := range c.Deploy.Cache {
			var set []string
			if r.CacheControl != "" {
				set = append(set, "Cache-Control: "+r.CacheControl)
			}
			if r.ContentType != "" {
				set = append(set, "Content-Type: "+r.ContentType)
			}
			rules[i] = r.Path + " → " + strings.Join(set, ", ")
		}
		fmt.Fprintf(&b, "Cache rules (first match wins): %s.\n", strings.Join(rules, "; "))
	}
	if c.Deploy.SkipBrokenLinks {
		b.WriteString("Symbolic links that leave the site, dangle or loop are skipped.\n")
	} else {
		b.WriteString("A symbolic link that leaves the site, dangles or loops refuses the deploy.\n")
	}
	if len(c.Environments) == 0 {
		b.WriteString("\nNo environments: hoist does nothing in this repository.\n")
		return b.String()
	}
	if chains := c.Chains(); len(chains) > 0 {
		b.WriteString("\nPromotion chains:\n")
		for _, ch := range chains {
			fmt.Fprintf(&b, "  %s\n", strings.Join(ch, " → "))
		}
	}
	b.WriteString("\nEnvironments:\n")
	for _, e := range c.Environments {
		fmt.Fprintf(&b, "  %s (branch %s)\n", e.Name, e.Branch)
		if e.PromoteFrom != "" {
			from, _ := c.Environments.Get(e.PromoteFrom)
			how := "when a person says /promote " + e.Name + " or merges the promotion pull request"
			if e.Auto {
				how = "automatically"
			}
			fmt.Fprintf(&b, "    promoted from %s (branch %s) %s\n", from.Name, from.Branch, how)
		}
		for _, cd := range c.Candidates {
			if cd.To == e.Name {
				how := "automatically"
				if !cd.Automatic() {
					how = "when a person says /promote " + e.Name
				}
				fmt.Fprintf(&b, "    candidate branch %s is smoke-tested and promoted %s\n", cd.From, how)
			}
		}
		for _, t := range c.Tags {
			if t.Promote == e.Name {
				fmt.Fprintf(&b, "    tags matching %s promote the tagged commit\n", t.Pattern)
			}
		}
		if g := e.Gates.Describe(); len(g) > 0 {
			fmt.Fprintf(&b, "    gates: %s\n", strings.Join(g, "; "))
		} else if e.PromoteFrom != "" || c.hasInbound(e.Name) {
			b.WriteString("    gates: none (every commit goes through)\n")
		}
		who := fmt.Sprintf("%s permission or more", e.Permission)
		if len(e.Teams) > 0 {
			who += " and membership of " + strings.Join(e.Teams, " or ") + " (or admin)"
		}
		fmt.Fprintf(&b, "    commands need %s\n", who)
		if e.Deploy.Target != "" {
			fmt.Fprintf(&b, "    deploys to %s at %s\n", e.Deploy.Target, e.Deploy.Prefix)
		}
		if e.Deploy.URL != "" {
			fmt.Fprintf(&b, "    URL %s\n", e.Deploy.URL)
		}
		if len(e.Purge) > 0 {
			var cdns []string
			for _, p := range e.Purge {
				s := p.CDN
				if p.Soft {
					s += " (soft)"
				}
				cdns = append(cdns, s)
			}
			fmt.Fprintf(&b, "    purges %s\n", strings.Join(cdns, ", "))
		}
	}
	s := c.Smoke
	var vps []string
	for _, v := range s.Viewports {
		vps = append(vps, fmt.Sprintf("%s %d×%d", v.Name, v.Width, v.Height))
	}
	fmt.Fprintf(&b, "\nSmoke test: %d page(s) in %s", len(s.Pages), strings.Join(vps, ", "))
	if s.Crawl.MaxPages > 0 {
		fmt.Fprintf(&b, ", crawling up to %d more", s.Crawl.MaxPages)
	}
	fmt.Fprintf(&b, "; fails on %s.\n", strings.Join(s.FailOn, ", "))
	if g := c.Generate; g.DispatchType != "" {
		fmt.Fprintf(&b, "Generation: repository_dispatch %q runs %s, bursts within %s coalesced.\n", g.DispatchType, g.Workflow, repoFormatDuration(g.Debounce))
	}
	if c.Commands.ShortFormEnabled() {
		b.WriteString("Commands: /promote and /hoist promote both work.\n")
	} else {
		b.WriteString("Commands: only the long form (/hoist promote) works.\n")
	}
	return b.String()
}

func (c *RepoConfig) hasInbound(env string) bool {
	for _, cd := range c.Candidates {
		if cd.To == env {
			return true
		}
	}
	for _, t := range c.Tags {
		if t.Promote == env {
			return true
		}
	}
	return false
}

// Chains lists the promotion chains, each from its first environment (one
// with no promote_from) to a last one (which no environment is promoted
// from), in file order. Environments in no chain of two or more are left
// out.
func (c *RepoConfig) Chains() [][]string {
	next := map[string][]string{}
	for _, e := range c.Environments {
		if e.PromoteFrom != "" {
			next[e.PromoteFrom] = append(next[e.PromoteFrom], e.Name)
		}
	}
	var out [][]string
	var walk func(path []string)
	walk = func(path []string) {
		last := path[len(path)-1]
		if len(next[last]) == 0 || len(path) > len(c.Environments) {
			out = append(out, path)
			return
		}
		for _, n := range next[last] {
			walk(append(append([]string(nil), path...), n))
		}
	}
	for _, e := range c.Environments {
		if e.PromoteFrom == "" && len(next[e.Name]) > 0 {
			walk([]string{e.Name})
		}
	}
	return out
}

// Describe lists the gates in words, such as `checks "ci / test" succeed`.
func (g RepoGates) Describe() []string {
	var out []string
	if len(g.Checks) > 0 {
		q := make([]string, len(g.Checks))
		for i, c := range g.Checks {
			q[i] = fmt.Sprintf("%q", c.Name)
			var from []string
			if c.App != "" {
				from = append(from, "app "+c.App)
			}
			if c.Creator != "" {
				from = append(from, "creator "+c.Creator)
			}
			if len(from) > 0 {
				q[i] += " (from " + strings.Join(from, " or ") + ")"
			}
		}
		out = append(out, "checks "+strings.Join(q, ", ")+" succeed")
	}
	if g.Smoke {
		out = append(out, "the hoist/smoke test passes")
	}
	if g.Soak > 0 {
		out = append(out, "the commit has been the source's head for "+repoFormatDuration(g.Soak))
	}
	if g.Approvals > 0 {
		s := "s"
		if g.Approvals == 1 {
			s = ""
		}
		out = append(out, fmt.Sprintf("%d approval%s on the promotion pull request", g.Approvals, s))
	}
	return out
}

// repoFormatDuration writes 30m rather than 30m0s.
func repoFormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
