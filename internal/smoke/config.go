package smoke

import (
	"fmt"

	"github.com/hoist-dev/hoist/config"
)

// ConfigOptions turns the smoke section of a repository's configuration,
// read and checked by package config like the rest of .github/hoist.yml,
// into runner options.
func ConfigOptions(c config.RepoSmoke) (Options, error) {
	var o Options
	for _, p := range c.Pages {
		o.Pages = append(o.Pages, Page{Path: p.Path, ExpectText: p.ExpectText, ExpectSelector: p.ExpectSelector, MaxLoadMS: p.MaxLoadMS})
	}
	for _, v := range c.Viewports {
		o.Viewports = append(o.Viewports, Viewport{Name: v.Name, Width: v.Width, Height: v.Height})
	}
	o.Crawl.MaxPages = c.Crawl.MaxPages
	for i, k := range c.FailOn {
		kind, err := ParseKind(k)
		if err != nil {
			return o, fmt.Errorf("smoke.fail_on[%d]: %w", i, err)
		}
		o.FailOn = append(o.FailOn, kind)
	}
	return o, nil
}
