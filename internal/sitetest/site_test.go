package sitetest_test

import (
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/sitetest"
	"github.com/hoist-dev/hoist/internal/world"
)

// A site is hoist serve on the world with acme/site configured: a green
// commit on dev is promoted into staging. Restarted, hoist comes back on
// the same address and data: the audit log still has the promotion.
func TestSitePromotesAndRestartsOnItsData(t *testing.T) {
	s := sitetest.StartSite(t, sitetest.SiteSpec{})
	sha := s.Commit("public/index.html", "<h1>v1</h1>", "First page")
	if sha2 := s.Promote(); sha2 != sha || s.Head("staging") != sha {
		t.Fatalf("promoted %s, staging at %s, want %s", sha2, s.Head("staging"), sha)
	}
	before := s.Srv
	s.StopHoist()
	s.StartHoist(nil)
	if s.Srv == before {
		t.Fatal("StartHoist did not start a new server")
	}
	if err := world.WaitReady(s.URL, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	s.WaitAudit("staging", sha, "promoted")
}
