package smokegate

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/hoist-dev/hoist/config"
	"github.com/hoist-dev/hoist/internal/checks"
	"github.com/hoist-dev/hoist/internal/jobs"
	"github.com/hoist-dev/hoist/internal/smoke"
	"github.com/hoist-dev/hoist/internal/smoke/fence"
)

// ErrBrowserBusy is returned by CheckLive while this process's browser is
// testing something else; the caller waits and asks again.
var ErrBrowserBusy = errors.New("the browser is busy with another smoke test")

// LiveCheck is one smoke test of a site that is already public: an
// environment after its deploy, at its URL, through its CDN.
type LiveCheck struct {
	// Repo is owner/name, whose screenshots these are.
	Repo string
	Env  string
	SHA  string
	// URL is the environment's public URL, the base of every page.
	URL string
	// CacheBust adds hoist_verify=<value> to every page's query, so a CDN
	// answers from the origin instead of an entry it still holds; empty
	// tests what visitors get.
	CacheBust string
	Smoke     config.RepoSmoke
}

// LiveResult is the outcome of a LiveCheck.
type LiveResult struct {
	Report *smoke.Report
	// Reason is one line on what failed ("" on success), for a deployment
	// status and an alert.
	Reason string
	// Output is the check run output, with screenshots.
	Output *github.CheckRunOutput
}

// CheckLive runs the repository's page checks against a live URL in the
// same browser, fence and artifact store as the smoke gate, and renders
// the result as a check run output. ErrBrowserBusy means try again soon.
func (s *Gate) CheckLive(ctx context.Context, c LiveCheck) (LiveResult, error) {
	if err := s.smokeReady(); err != nil {
		return LiveResult{}, err
	}
	base, err := url.Parse(c.URL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return LiveResult{}, jobs.Permanent(fmt.Errorf("verify url %q is not an absolute http(s) URL", c.URL))
	}
	opts, err := smoke.ConfigOptions(c.Smoke)
	if err != nil {
		return LiveResult{}, jobs.Permanent(err)
	}
	opts.ChromiumPath = s.smoke.chromium
	opts.AllowHosts = s.smoke.allowHosts
	opts.BrowserUser = s.smoke.browserUser
	opts.BaseURL = strings.TrimSuffix(c.URL, "/")
	// The URL is the repository's to choose: before any browser starts,
	// its host's addresses are checked, and the browser reaches the site
	// at those only.
	if opts.Pin, err = s.pinLive(ctx, base); err != nil {
		return LiveResult{}, err
	}
	opts.Network = s.smoke.network
	if len(opts.Pages) == 0 {
		opts.Pages = []smoke.Page{{Path: "/"}}
	}
	if c.CacheBust != "" {
		for i := range opts.Pages {
			opts.Pages[i].Path = bust(opts.Pages[i].Path, c.CacheBust)
		}
	}
	select {
	case s.smoke.browsers <- struct{}{}:
	default:
		return LiveResult{}, ErrBrowserBusy
	}
	rep, err := smoke.Run(ctx, opts)
	<-s.smoke.browsers
	if err != nil {
		return LiveResult{}, fmt.Errorf("verify run: %w", err)
	}
	if err := s.storeShots(ctx, rep); err != nil {
		return LiveResult{}, err
	}
	out := smokeOutput(rep, smokeView{Env: c.Env, SHA: c.SHA, ArtifactBase: s.smoke.publicURL,
		ArtifactURL: s.artifactURL(c.Repo, s.smoke.publicURL), ReportURL: c.URL, Live: true})
	var reqs []*github.CheckRunOutput
	if s.smoke.privateImages {
		reqs, err = out.RequestsPrivateImages("")
	} else {
		reqs, err = out.Requests("")
	}
	if err != nil {
		return LiveResult{}, jobs.Permanent(fmt.Errorf("verify check output: %w", err))
	}
	res := LiveResult{Report: rep, Output: reqs[0]}
	if rep.Conclusion == smoke.Failure {
		res.Reason = rep.Title
		for _, p := range rep.Pages {
			if p.Conclusion == smoke.Failure {
				res.Reason = unbust(p.Path) + " (" + p.Viewport + "): " + problems(p)
				break
			}
		}
	}
	return res, nil
}

// URLRefusedError is a live URL hoist will not browse: its host is, or
// resolves to, an address of this machine, a private network or a cloud
// metadata service, and the server does not allow the host.
type URLRefusedError struct {
	URL string
	// Reason is one line, naming the address and the setting that would
	// allow it.
	Reason string
}

func (e *URLRefusedError) Error() string { return e.Reason }

// pinLive resolves the live site's host once and checks every address,
// as the browser's fence checks any host's: a private, loopback,
// link-local or metadata address, or one of this machine's, refuses the
// site (a permanent error) unless smoke.verify_private_hosts names the
// host; a metadata address is refused even then. Otherwise a repository
// could have hoist photograph its own metrics, a private service or the
// cloud metadata service into a check run.
func (s *Gate) pinLive(ctx context.Context, base *url.URL) (*fence.Pin, error) {
	host := strings.ToLower(base.Hostname())
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	port, _ := strconv.Atoi(base.Port())
	if port == 0 {
		port = 80
		if base.Scheme == "https" {
			port = 443
		}
	}
	allowed := slices.ContainsFunc(s.smoke.verifyPrivate, func(r fence.Rule) bool { return r.Match(host, port) })
	var lookup fence.Lookup
	var public []netip.AddrPort
	if n := s.smoke.network; n != nil {
		lookup, public = n.Lookup, n.Public
	}
	pin, err := fence.PinOrigin(ctx, base, allowed, lookup, public)
	var oe *fence.OriginError
	if errors.As(err, &oe) {
		why := "hoist does not browse private addresses unless the server allows the host (smoke.verify_private_hosts)"
		if allowed {
			why = "hoist never browses a cloud metadata service"
		}
		return nil, jobs.Permanent(&URLRefusedError{URL: base.String(), Reason: "verify url " + oe.Error() + "; " + why})
	}
	if err != nil {
		return nil, fmt.Errorf("verify url: %w", err)
	}
	return pin, nil
}

// bust adds the cache-busting parameter to a page path.
func bust(p, value string) string {
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	return p + sep + "hoist_verify=" + url.QueryEscape(value)
}

// unbust removes what bust added, for messages.
func unbust(p string) string {
	if i := strings.Index(p, "hoist_verify="); i > 0 {
		return strings.TrimRight(p[:i], "?&")
	}
	return p
}

// CheckOutputOf renders a failure to run at all as a check run output.
func CheckOutputOf(title, summary string) *github.CheckRunOutput {
	return &github.CheckRunOutput{Title: github.String(cutRunes(title, 200)), Summary: github.String(checks.Escape(summary))}
}
