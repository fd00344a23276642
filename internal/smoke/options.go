// Package smoke tests a website in headless Chromium: each page in each
// viewport is loaded, watched for errors, checked for expected content and
// photographed; screenshots can be compared with a baseline. The result is a
// Report with a conclusion fit for a GitHub check run.
package smoke

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/hoist-dev/hoist/internal/smoke/fence"
)

// Kind is the kind of a finding. The names are those of fail_on in
// .github/hoist.yml.
type Kind string

const (
	// KindHTTPError: the document answered with a 4xx/5xx status or did not
	// load at all.
	KindHTTPError Kind = "http_error"
	// KindConsoleError: the page called console.error.
	KindConsoleError Kind = "console_error"
	// KindFailedRequest: a subresource answered 4xx/5xx or failed on the
	// network.
	KindFailedRequest Kind = "failed_request"
	// KindException: an uncaught JavaScript exception.
	KindException Kind = "exception"
	// KindSlow: the page loaded later than its max_load_ms, or not within
	// the page timeout.
	KindSlow Kind = "slow"
	// KindMissingText: expect_text was not in the page's text.
	KindMissingText Kind = "missing_text"
	// KindMissingSelector: nothing matched expect_selector.
	KindMissingSelector Kind = "missing_selector"
	// KindBlockedRequest: the browser's network fence refused a request of
	// the page (a private address, this machine, a host not allowed). It
	// fails the run when fail_on lists it or failed_request, so the
	// default (every kind) fails too.
	KindBlockedRequest Kind = "blocked_request"
)

// AllKinds lists every kind, in the order reports show them.
var AllKinds = []Kind{KindHTTPError, KindConsoleError, KindFailedRequest, KindBlockedRequest, KindException, KindSlow, KindMissingText, KindMissingSelector}

// ParseKind checks a fail_on name.
func ParseKind(s string) (Kind, error) {
	for _, k := range AllKinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(AllKinds))
	for i, k := range AllKinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown finding kind %q (want one of %s)", s, strings.Join(names, ", "))
}

// Page is one page to test, as listed in the config.
type Page struct {
	// Path is relative to the base URL, such as "/" or "/products/?q=1".
	Path           string
	ExpectText     string
	ExpectSelector string
	// MaxLoadMS is the longest acceptable time to the load event; 0 is no
	// limit.
	MaxLoadMS int
}

// Viewport is a browser window size in CSS pixels. Widths under 600 are
// emulated as a mobile device (touch, meta viewport).
type Viewport struct {
	Name          string
	Width, Height int
}

// DesktopViewport is the viewport used when none is configured.
var DesktopViewport = Viewport{Name: "desktop", Width: 1280, Height: 800}

// Crawl follows same-site links from the listed pages to find broken ones.
type Crawl struct {
	// MaxPages bounds how many pages the crawl adds; 0 turns it off.
	MaxPages int
}

// Options is one smoke run.
type Options struct {
	// BaseURL is where the site under test answers, such as the URL of a
	// private preview.
	BaseURL   string
	Pages     []Page
	Viewports []Viewport
	Crawl     Crawl
	// FailOn lists the kinds that fail the run; other findings only make it
	// neutral. Empty means every kind fails.
	FailOn []Kind

	// Concurrency is the number of tabs working in parallel (default 2:
	// while one tab's page runs in the renderer, the browser process
	// loads, composites and encodes the other's; two keep two cores busy).
	Concurrency int
	// PageTimeout bounds one page: load, checks and screenshot (default 15s).
	PageTimeout time.Duration
	// ChromiumPath is the browser binary; empty finds one (see FindChromium).
	ChromiumPath string
	// ScreenshotScale scales screenshots (default 0.5: half the CSS pixel
	// size, sharp enough to read and four times fewer pixels to encode).
	ScreenshotScale float64
	// MaxScreenshotBytes is the largest PNG kept; bigger shots are retaken at
	// a smaller scale (default just under GitHub's 5 MB image limit).
	MaxScreenshotBytes int
	// MaxScreenshotHeight caps the height of a full-page shot in CSS pixels
	// (default 8000), so an endless page does not make an endless image.
	MaxScreenshotHeight int
	// ShareRenderer runs every tab in one renderer process. It is the
	// default now (see RendererPerTab); the field stays for callers that set
	// it, and wins over RendererPerTab.
	ShareRenderer bool
	// RendererPerTab gives each tab a renderer process of its own, as
	// before: about 130 MB more browser memory per tab, but no tab ever
	// waits for another's main thread. By default the tabs share one
	// renderer; a page that holds it has its script interrupted and the
	// pages it may have slowed are checked again alone (see shared.go).
	RendererPerTab bool
	// CheckFavicon reports a missing /favicon.ico; by default it is ignored.
	CheckFavicon bool
	// IgnoreRequests lists URL prefixes whose failures are not reported
	// (third-party trackers, for example).
	IgnoreRequests []string

	// AllowHosts lists the hosts besides the site under test that pages
	// may load from (smoke.allow_hosts: "fonts.example.com",
	// "*.example.com", "cdn.example.com:8443"); they are reached only on
	// public addresses. Everything else is refused (see fence.go).
	AllowHosts []string
	// BrowserUser is the user Chromium runs as when hoist runs as root: a
	// name or uid[:gid]; empty means nobody. "root" keeps root (no sandbox).
	BrowserUser string

	// Pin, for a live site that hoist does not serve itself, holds the
	// base URL's addresses as fence.PinOrigin checked them before the
	// run: the browser reaches the site there only, never at a new answer
	// of its name. Nil for hoist's own private server of a candidate.
	Pin *fence.Pin
	// Network stands in for the outside world in tests: a resolver, and
	// loopback listeners the fence treats as public hosts. Nil outside
	// tests.
	Network *Network

	// Progress, when set, is called after each page with the pages done and
	// the pages known so far (the total grows while a crawl finds pages).
	Progress func(done, total int)
}

func (o *Options) withDefaults() Options {
	c := *o
	if len(c.Pages) == 0 {
		c.Pages = []Page{{Path: "/"}}
	}
	if len(c.Viewports) == 0 {
		c.Viewports = []Viewport{DesktopViewport}
	}
	if len(c.FailOn) == 0 {
		c.FailOn = AllKinds
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.PageTimeout <= 0 {
		c.PageTimeout = 15 * time.Second
	}
	if c.ScreenshotScale <= 0 {
		c.ScreenshotScale = 0.5
	}
	if c.MaxScreenshotBytes <= 0 {
		c.MaxScreenshotBytes = 5_000_000 - 1
	}
	if c.MaxScreenshotHeight <= 0 {
		c.MaxScreenshotHeight = 8000
	}
	return c
}

// Validate reports the first thing wrong with the options, saying where.
func (o *Options) Validate() error {
	var errs []error
	u, err := url.Parse(o.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("base URL %q: want an absolute http(s) URL", o.BaseURL))
	}
	for i, p := range o.Pages {
		if !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, fmt.Errorf("pages[%d].path %q: must start with /", i, p.Path))
		}
		if p.MaxLoadMS < 0 {
			errs = append(errs, fmt.Errorf("pages[%d].max_load_ms %d: must not be negative", i, p.MaxLoadMS))
		}
	}
	seen := map[string]bool{}
	for i, v := range o.Viewports {
		if v.Name == "" {
			errs = append(errs, fmt.Errorf("viewports[%d]: name missing", i))
		}
		if seen[v.Name] {
			errs = append(errs, fmt.Errorf("viewports[%d]: name %q used twice", i, v.Name))
		}
		seen[v.Name] = true
		if v.Width < 100 || v.Width > 4000 || v.Height < 100 || v.Height > 4000 {
			errs = append(errs, fmt.Errorf("viewports[%d] %q: %dx%d out of range 100..4000", i, v.Name, v.Width, v.Height))
		}
	}
	if o.Crawl.MaxPages < 0 {
		errs = append(errs, fmt.Errorf("crawl.max_pages %d: must not be negative", o.Crawl.MaxPages))
	}
	for i, k := range o.FailOn {
		if _, err := ParseKind(string(k)); err != nil {
			errs = append(errs, fmt.Errorf("fail_on[%d]: %w", i, err))
		}
	}
	if _, err := fence.ParseRules(o.AllowHosts); err != nil {
		errs = append(errs, err)
	}
	if o.ScreenshotScale < 0 || o.ScreenshotScale > 2 {
		errs = append(errs, fmt.Errorf("screenshot scale %g: want 0..2", o.ScreenshotScale))
	}
	return errors.Join(errs...)
}

// Network is how tests stand in for the internet: Lookup resolves names
// (nil: the system resolver), and Public lists loopback listeners to treat
// as public hosts.
type Network struct {
	Lookup fence.Lookup
	Public []netip.AddrPort
}

// fenceConfig is the network fence of a run against base.
func (o *Options) fenceConfig(base *url.URL) (fence.Config, error) {
	rules, err := fence.ParseRules(o.AllowHosts)
	if err != nil {
		return fence.Config{}, err
	}
	c := fence.Config{Origin: base, Allow: rules, Pin: o.Pin}
	if o.Network != nil {
		c.Lookup, c.Public = o.Network.Lookup, o.Network.Public
	}
	return c, nil
}
