package gh

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The budget gauges follow each installation's latest response, under its
// id and never mixed with another's; a secondary limit is counted as a
// pause of the installation that met it; requests are counted by method
// and status class, with methods outside GitHub's API folded into "other".
func TestMetricsPerInstallation(t *testing.T) {
	reg := prometheus.NewRegistry()
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	o := paceOptions(clock, PaceOptions{})
	o.Metrics = NewMetrics(reg)
	remaining := map[string]string{"/a": "4999", "/b": "120"}
	secondary := true
	wire := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("X-RateLimit-Limit", "5000")
		h.Set("X-RateLimit-Remaining", remaining[r.URL.Path])
		h.Set("X-RateLimit-Reset", "1800003600")
		h.Set("X-RateLimit-Resource", "core")
		status := http.StatusOK
		if r.Method == http.MethodPost && secondary {
			secondary = false
			status = http.StatusForbidden
			h.Set("Retry-After", "1")
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
	})
	ps := newPaces(o.Pace)
	a := newRateLimiter(wire, *o, ps.get(17))
	b := newRateLimiter(wire, *o, ps.get(42))
	send := func(rt http.RoundTripper, method, path string) {
		t.Helper()
		req, _ := http.NewRequest(method, "https://api.github.test"+path, nil)
		res, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
	}
	send(a, http.MethodGet, "/a")
	send(b, http.MethodPost, "/b") // 403 secondary limit, then 200
	send(b, "PROPFIND", "/b")
	want := `
# HELP hoist_github_rate_limit_remaining Requests left in the current rate-limit window, from the latest response, by installation id (app: the App itself) and resource.
# TYPE hoist_github_rate_limit_remaining gauge
hoist_github_rate_limit_remaining{installation="17",resource="core"} 4999
hoist_github_rate_limit_remaining{installation="42",resource="core"} 120
# HELP hoist_github_rate_limit_limit Requests allowed in the rate-limit window, from the latest response, by installation id and resource.
# TYPE hoist_github_rate_limit_limit gauge
hoist_github_rate_limit_limit{installation="17",resource="core"} 5000
hoist_github_rate_limit_limit{installation="42",resource="core"} 5000
# HELP hoist_github_secondary_limit_pauses_total Pauses of an installation's writes after a GitHub secondary rate limit, by installation id.
# TYPE hoist_github_secondary_limit_pauses_total counter
hoist_github_secondary_limit_pauses_total{installation="42"} 1
# HELP hoist_github_requests_total GitHub API requests by method and status class (2xx, 3xx, 4xx, 5xx, error).
# TYPE hoist_github_requests_total counter
hoist_github_requests_total{method="GET",status_class="2xx"} 1
hoist_github_requests_total{method="POST",status_class="2xx"} 1
hoist_github_requests_total{method="POST",status_class="4xx"} 1
hoist_github_requests_total{method="other",status_class="2xx"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "hoist_github_rate_limit_remaining",
		"hoist_github_rate_limit_limit", "hoist_github_secondary_limit_pauses_total", "hoist_github_requests_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.ToFloat64(o.Metrics.resetGauge.WithLabelValues("17", "core")); got != 1800003600 {
		t.Errorf("reset = %v, want 1800003600", got)
	}
}
