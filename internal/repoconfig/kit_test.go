package repoconfig_test

// Helpers of this package's tests only; the test world is sitetest.Site.

import (
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/hoist-dev/hoist/emulator"
	"github.com/hoist-dev/hoist/internal/sitetest"
)

// The organization's default: staging takes dev's head once "ci / test"
// passed.
const ownerDefaultYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / test"] } }
`

// The repository's own file asks for another check.
const ownConfigYML = `version: 1
environments:
  dev:     { branch: dev }
  staging: { branch: staging, promote_from: dev, auto: true, gates: { checks: ["ci / own"] } }
`

// ownerRig is a site whose acme/site has no configuration of its own at
// first, while the organization's acme/.github repository (in the same
// installation) has .github/hoist.yml. reads counts the contents API
// requests the emulator served.
type ownerRig struct {
	*sitetest.Site
	org   *sitetest.Site // a working clone of acme/.github
	reads atomic.Int64
}

func startOwnerRig(t *testing.T, orgYML string) *ownerRig {
	t.Helper()
	o := &ownerRig{}
	o.Site = sitetest.StartSite(t, sitetest.SiteSpec{Bare: true, Repos: []string{".github"},
		Emulator: emulator.Options{ObserveResponse: func(method, specPath string, status int, header http.Header, body []byte) {
			if method == http.MethodGet && specPath == "/repos/{owner}/{repo}/contents/{path}" {
				o.reads.Add(1)
			}
		}},
		// The organization's default first, so that the site's first push
		// already finds it.
		Before: func(s *sitetest.Site) {
			o.org = &sitetest.Site{World: s.World, T: t, Alice: s.Alice, Work: filepath.Join(t.TempDir(), "org")}
			o.org.Clone("acme/.github", o.org.Work)
			o.org.Commit(".github/hoist.yml", orgYML, "Default hoist configuration of acme")
			o.org.Push("main")
		}})
	o.Commit("public/index.html", "<h1>v1</h1>", "First page")
	o.Git(o.Work, "push", "-q", "--atomic", "origin", "HEAD:main", "HEAD:dev", "HEAD:staging")
	return o
}
