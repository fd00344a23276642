package smoke

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Conclusion is a GitHub check run conclusion.
type Conclusion string

const (
	Success Conclusion = "success"
	Failure Conclusion = "failure"
	// Neutral: findings that fail_on does not list (warnings).
	Neutral Conclusion = "neutral"
)

// SchemaVersion is the version of the JSON report. It changes only when a
// field changes meaning or disappears; new fields may be added.
const SchemaVersion = 1

// Report is the result of one smoke run. Its JSON form is stable (see
// SchemaVersion).
type Report struct {
	Schema     int          `json:"schema"`
	BaseURL    string       `json:"base_url"`
	StartedAt  time.Time    `json:"started_at"`
	DurationMS int64        `json:"duration_ms"`
	Conclusion Conclusion   `json:"conclusion"`
	Title      string       `json:"title"`
	FailOn     []Kind       `json:"fail_on"`
	Pages      []PageResult `json:"pages"`
	// Changed lists "path (viewport)" of pages that look different from the
	// baseline, after CompareVisual.
	Changed []string `json:"changed,omitempty"`
	Stats   Stats    `json:"stats"`
}

// Stats are figures about the run itself.
type Stats struct {
	BrowserStartMS int64 `json:"browser_start_ms"`
	// BrowserPeakRSS is the largest sum of the resident memory of the
	// browser's processes seen during the run, in bytes (Linux only).
	BrowserPeakRSS int64 `json:"browser_peak_rss_bytes"`
	// BrowserCPUMS is the CPU time (user+system) of the browser's processes
	// over the run, in milliseconds (Linux only): on a shared machine it
	// says more about the cost of a run than the wall time.
	BrowserCPUMS int64 `json:"browser_cpu_ms"`
	// BrowserProcesses is the most processes the browser ran at once
	// (Linux only).
	BrowserProcesses int `json:"browser_processes"`
	TabsOpened       int `json:"tabs_opened"`
	// SharedRenderer tells whether the tabs shared one renderer process.
	SharedRenderer bool `json:"shared_renderer"`
	// Rechecked counts the pages checked again alone because another tab
	// sharing their renderer may have spoiled the first result.
	Rechecked int `json:"rechecked,omitempty"`
	// GarbageCollections counts the collections forced after a page
	// because the browser held much memory.
	GarbageCollections int `json:"garbage_collections,omitempty"`
	// Sandbox tells whether Chromium ran with its sandbox; BrowserUser is
	// the uid:gid it ran as (see browser.go).
	Sandbox     bool   `json:"sandbox"`
	BrowserUser string `json:"browser_user,omitempty"`
	// Refused counts the requests the network fence refused.
	Refused        int     `json:"refused,omitempty"`
	Concurrency    int     `json:"concurrency"`
	PagesPerSecond float64 `json:"pages_per_second"`
}

// PageResult is one page in one viewport.
type PageResult struct {
	Path     string `json:"path"`
	Viewport string `json:"viewport"`
	URL      string `json:"url"`
	// LinkedFrom is the page whose link the crawl followed; empty for a
	// configured page.
	LinkedFrom string `json:"linked_from,omitempty"`
	Status     int    `json:"status"`
	LoadMS     int64  `json:"load_ms"`
	// CheckMS is the whole time spent on the page: load, checks, shot.
	CheckMS    int64      `json:"check_ms"`
	ShotMS     int64      `json:"shot_ms"`
	Findings   []Finding  `json:"findings"`
	Screenshot *Shot      `json:"screenshot,omitempty"`
	Visual     *Visual    `json:"visual,omitempty"`
	Conclusion Conclusion `json:"conclusion"`

	// order and vpOrder keep results in the configured order.
	order, vpOrder int
	// began and ended bound the check, to give it the fence's refusals
	// no tab claimed.
	began, ended time.Time
}

// Key names the page and viewport, to match results across runs.
func (p PageResult) Key() string { return p.Path + " (" + p.Viewport + ")" }

// Finding is one thing wrong with a page.
type Finding struct {
	Kind    Kind   `json:"kind"`
	Message string `json:"message"`
	// Resource is the URL the finding is about, when there is one (the
	// failed request, the script that threw).
	Resource string `json:"resource,omitempty"`
	// Fails is true when the kind is in fail_on.
	Fails bool `json:"fails"`
}

// Shot is a full-page PNG screenshot. PNG is kept in memory for the caller
// to store; the report refers to it by SHA256.
type Shot struct {
	SHA256 string  `json:"sha256"`
	Width  int     `json:"width"`
	Height int     `json:"height"`
	Bytes  int     `json:"bytes"`
	Scale  float64 `json:"scale"`
	PNG    []byte  `json:"-"`
}

// conclude sets the conclusion of each page and of the report, and the
// title.
func (r *Report) conclude() {
	fail := map[Kind]bool{}
	for _, k := range r.FailOn {
		fail[k] = true
	}
	// A refused request is a failed request too: a fail_on that fails on
	// failed requests fails on refused ones, so a site's config written
	// before the fence keeps failing on them.
	if fail[KindFailedRequest] {
		fail[KindBlockedRequest] = true
	}
	r.Conclusion = Success
	for i := range r.Pages {
		p := &r.Pages[i]
		p.Conclusion = Success
		for j := range p.Findings {
			f := &p.Findings[j]
			f.Fails = fail[f.Kind]
			if f.Fails {
				p.Conclusion = Failure
			} else if p.Conclusion == Success {
				p.Conclusion = Neutral
			}
		}
		switch {
		case p.Conclusion == Failure:
			r.Conclusion = Failure
		case p.Conclusion == Neutral && r.Conclusion == Success:
			r.Conclusion = Neutral
		}
	}
	r.Title = r.title()
}

var kindLabels = map[Kind][2]string{
	KindHTTPError:       {"HTTP error", "HTTP errors"},
	KindConsoleError:    {"console error", "console errors"},
	KindFailedRequest:   {"failed request", "failed requests"},
	KindBlockedRequest:  {"blocked request", "blocked requests"},
	KindException:       {"exception", "exceptions"},
	KindSlow:            {"slow page", "slow pages"},
	KindMissingText:     {"missing text", "missing texts"},
	KindMissingSelector: {"missing selector", "missing selectors"},
}

func plural(n int, forms [2]string) string {
	if n == 1 {
		return "1 " + forms[0]
	}
	return fmt.Sprintf("%d %s", n, forms[1])
}

// title is the one-line summary for a check run, such as
// "18/20 pages OK · 2 console errors".
func (r *Report) title() string {
	ok := 0
	counts := map[Kind]int{}
	for _, p := range r.Pages {
		if len(p.Findings) == 0 {
			ok++
		}
		for _, f := range p.Findings {
			counts[f.Kind]++
		}
	}
	noun := "pages"
	if len(r.Pages) == 1 {
		noun = "page"
	}
	parts := []string{fmt.Sprintf("%d/%d %s OK", ok, len(r.Pages), noun)}
	for _, k := range AllKinds {
		if counts[k] > 0 {
			parts = append(parts, plural(counts[k], kindLabels[k]))
		}
	}
	if n := len(r.Changed); n > 0 {
		parts = append(parts, plural(n, [2]string{"visual change", "visual changes"}))
	}
	return strings.Join(parts, " · ")
}

// sortPages orders results as configured: by the page's position, then the
// viewport's.
func sortPages(pages []PageResult, order func(PageResult) (int, int)) {
	// Stable, so crawled pages keep the order they were found in.
	sort.SliceStable(pages, func(i, j int) bool {
		a1, a2 := order(pages[i])
		b1, b2 := order(pages[j])
		if a1 != b1 {
			return a1 < b1
		}
		return a2 < b2
	})
}
