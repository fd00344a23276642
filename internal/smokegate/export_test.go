package smokegate

import (
	"time"

	"github.com/hoist-dev/hoist/internal/smoke"
)

// SetSmokeDeadline shortens the deadline of smoke runs requested from now
// on; the returned func restores it.
func SetSmokeDeadline(d time.Duration) (restore func()) {
	old := smokeDeadline
	smokeDeadline = d
	return func() { smokeDeadline = old }
}

// HoldBrowser takes this process's browser, as a long run would; runs
// wait until release.
func (s *Gate) HoldBrowser() (release func()) {
	s.smoke.browsers <- struct{}{}
	return func() { <-s.smoke.browsers }
}

// SignUntil signs a path of hoist's public address with the server's key,
// to expire at exp (expired URLs in tests).
func (s *Gate) SignUntil(path string, exp time.Time) string {
	s.smoke.mu.Lock()
	defer s.smoke.mu.Unlock()
	return s.smoke.urls.SignUntil(path, exp)
}

// SetNetwork makes the gate's live checks resolve names with n.Lookup and
// treat n.Public's loopback listeners as public hosts: tests stand in for
// the internet this way.
func (s *Gate) SetNetwork(n *smoke.Network) {
	s.smoke.mu.Lock()
	defer s.smoke.mu.Unlock()
	s.smoke.network = n
}
