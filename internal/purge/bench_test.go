package purge

import (
	"fmt"
	"testing"
)

// docsSite returns a documentation-like change set: sections × pages, each
// page a dir/index.html, plus assets.
func docsSite(sections, pages int) []Change {
	var paths []string
	for s := 0; s < sections; s++ {
		for p := 0; p < pages; p++ {
			paths = append(paths, fmt.Sprintf("docs/s%03d/p%03d/index.html", s, p))
		}
		paths = append(paths, fmt.Sprintf("assets/s%03d.css", s))
	}
	return changes("prod", paths...)
}

// BenchmarkCloudFrontCollapse plans 10,000 changed pages (20,000 URL paths
// over 500 directories) that must collapse into 15 wildcards and 3,000
// exact paths.
func BenchmarkCloudFrontCollapse(b *testing.B) {
	req := Request{Edition: "prod", Changes: docsSite(20, 500)}
	b.ReportAllocs()
	var p Plan
	for b.Loop() {
		var err error
		if p, err = MakePlan(req, cloudfrontCfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.ExactPaths), "exact-paths")
	b.ReportMetric(float64(p.Wildcards), "wildcards")
}

// BenchmarkCloudFrontCollapseWide: 2,000 directories of 5 pages, wide
// rather than deep.
func BenchmarkCloudFrontCollapseWide(b *testing.B) {
	req := Request{Edition: "prod", Changes: docsSite(400, 5)}
	var p Plan
	for b.Loop() {
		var err error
		if p, err = MakePlan(req, cloudfrontCfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.ExactPaths), "exact-paths")
	b.ReportMetric(float64(p.Wildcards), "wildcards")
}

// BenchmarkFastlyPlan plans 10,000 path keys.
func BenchmarkFastlyPlan(b *testing.B) {
	req := Request{Edition: "prod", EditionKey: "e-prod", Changes: docsSite(20, 500)}
	cfg := fastlyCfg
	cfg.MaxBatches = 100
	for b.Loop() {
		if _, err := MakePlan(req, cfg); err != nil {
			b.Fatal(err)
		}
	}
}
