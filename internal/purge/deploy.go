package purge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/hoist-dev/hoist/internal/deploy"
)

// Extra is what a repository adds to every purge of an environment that
// changed something: paths (such as /health.html) and surrogate keys.
type Extra struct {
	Paths []string
	Keys  []string
}

// RequestFor is the purge request for what a deploy changed: every added,
// modified and deleted path with its surrogate keys (the edition key and
// the path key), plus the extra paths and keys. A deploy that changed
// nothing asks for nothing, extras included.
func RequestFor(r *deploy.Result, extra Extra) Request {
	req := Request{Edition: r.Edition, EditionKey: r.EditionKey}
	if r.DeployID != "" {
		// Per deploy, not per commit: a rollback to a commit deployed
		// before must invalidate again, a retried purge of one deploy not.
		req.ID = r.Edition + "@" + r.Commit + "@" + r.DeployID
	}
	if !r.Changed() {
		return req
	}
	seen := map[string]bool{}
	for _, c := range r.Changes.All() {
		seen[c.Path] = true
		req.Changes = append(req.Changes, Change{Path: c.Path, Keys: c.Keys})
	}
	for _, p := range extra.Paths {
		p = SitePath(p)
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		req.Changes = append(req.Changes, Change{Path: p, Keys: []string{r.EditionKey, deploy.PathKey(r.Edition, p)}})
	}
	if len(extra.Keys) > 0 {
		// Keys travel with a changed path: key-based CDNs purge them, path-
		// based ones purge the path, which changed anyway.
		req.Changes[0].Keys = append(append([]string(nil), req.Changes[0].Keys...), extra.Keys...)
	}
	return req
}

// Merge adds the changes of other that req does not have yet (a purge that
// failed before, sent again with the next one).
func (req Request) Merge(other Request) Request {
	seen := map[string]bool{}
	for _, c := range req.Changes {
		seen[c.Path] = true
	}
	for _, c := range other.Changes {
		if !seen[c.Path] {
			seen[c.Path] = true
			req.Changes = append(req.Changes, c)
		}
	}
	req.All = req.All || other.All
	return req
}

// SitePath turns a URL path of the site ("/", "/docs/", "/a.html") into
// the path of the file that serves it ("index.html", "docs/index.html",
// "a.html").
func SitePath(u string) string {
	p := strings.TrimPrefix(u, "/")
	if p == "" || strings.HasSuffix(p, "/") {
		p += "index.html"
	}
	return p
}

// Outcome is the purge of one deploy on one CDN.
type Outcome struct {
	Plan   Plan
	Result Result
	Err    error
}

// DeployPurger purges the CDNs of an environment after a deploy; it is the
// deploy.Purger of `hoist sync --purge` and of the server's publish.
type DeployPurger struct {
	CDNs    []CDNConfig
	Extra   Extra
	Options []Option
	// Outcomes has one entry per CDN after Purge, in the order of CDNs.
	Outcomes []Outcome
}

// Purge purges every CDN, each even when another failed, and reports the
// failures together.
func (p *DeployPurger) Purge(ctx context.Context, r *deploy.Result) error {
	return p.Run(ctx, RequestFor(r, p.Extra))
}

// Run purges req on every CDN, each even when another failed.
func (p *DeployPurger) Run(ctx context.Context, req Request) error {
	p.Outcomes = p.Outcomes[:0]
	var errs []error
	for _, cfg := range p.CDNs {
		plan, res, err := Run(ctx, req, cfg, p.Options...)
		p.Outcomes = append(p.Outcomes, Outcome{Plan: plan, Result: res, Err: err})
		if err != nil {
			errs = append(errs, fmt.Errorf("purge %s: %w", cfg.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Requests is the number of purge requests made on every CDN.
func (p *DeployPurger) Requests() int {
	n := 0
	for _, o := range p.Outcomes {
		n += o.Result.Requests
	}
	return n
}

// Markdown renders the purges for a check run summary.
func (p *DeployPurger) Markdown() string {
	if len(p.Outcomes) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n**Purge**\n\n")
	for _, o := range p.Outcomes {
		line := o.Result.String()
		if o.Plan.Fallback != "" {
			line += " (" + o.Plan.Fallback + ")"
		}
		if o.Err != nil {
			line += ": **failed**: " + o.Err.Error()
		}
		fmt.Fprintf(&b, "- %s\n", line)
	}
	return b.String()
}

// PrefixOf is the URL path prefix purges use for an environment served at
// envURL: its path when the environment lives under a sub-path of its host
// ("https://docs.example.com/v/1.2/" → "v/1.2/"), so that a change to
// index.html purges /v/1.2/index.html and /v/1.2/, never the host's root.
// An empty, unparsable or root URL leaves fallback (the edition's folder on
// its target, which a CDN serving the target at its keys sees).
func PrefixOf(envURL, fallback string) string {
	if envURL == "" {
		return fallback
	}
	u, err := url.Parse(envURL)
	if err != nil || u.Host == "" {
		return fallback
	}
	p := strings.Trim(path.Clean("/"+u.Path), "/")
	if p == "" || p == "." {
		return fallback
	}
	return p + "/"
}
