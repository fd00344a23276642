package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/internal/web"
)

type rolloutList map[int64]web.RolloutView

func (l rolloutList) Rollouts(_ context.Context, repo string, _ int) ([]web.RolloutView, error) {
	var out []web.RolloutView
	if repo == "acme/shop" {
		for _, r := range l {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l rolloutList) Rollout(_ context.Context, repo string, id int64) (web.RolloutView, error) {
	r, ok := l[id]
	if !ok || repo != "acme/shop" {
		return r, web.ErrNoRollout
	}
	return r, nil
}

// The rollout view lists a repository's rollouts and shows one's fleet
// table, failed instances with their reason; a repository the person
// cannot read is answered as one without rollouts, and what gates gave is
// escaped.
func TestRolloutView(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	src := rolloutList{7: {ID: 7, Release: "v2", SHA: "0123456789abcdef", State: "finished", Started: now,
		Counts: map[string]int{"upgraded": 1, "failed": 1},
		Instances: []web.RolloutInstanceView{
			{Name: "acme", Stage: "prod", State: "upgraded", Link: "https://acme.example.com/", Screenshot: "https://hoist.example/s/1.png"},
			{Name: "bolt", Stage: "dev", State: "failed", Reason: "dev-bolt: smoke: <script>x</script>", Link: "javascript:alert(1)"},
		}}}
	d := web.NewDashboard(web.DashboardOptions{Access: fixedAccess{"acme/shop": 1}, Rollouts: src, Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	d.Mount(mux)
	get := func(path string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, body := get("/fleets/acme/shop/rollouts")
	if code != http.StatusOK || !strings.Contains(body, `href="/fleets/acme/shop/rollouts/7"`) || !strings.Contains(body, "<code>0123456</code>") {
		t.Fatalf("list: %d\n%s", code, body)
	}
	code, body = get("/fleets/acme/shop/rollouts/7")
	for _, want := range []string{`id="instance-bolt"`, "dev-bolt: smoke: &lt;script&gt;x&lt;/script&gt;", `<img class="thumb" src="https://hoist.example/s/1.png"`,
		`href="#ZgotmplZ"`, "1 upgraded", "1 failed", "<code>/upgrade retry</code>"} {
		if !strings.Contains(body, want) {
			t.Errorf("rollout page lacks %q", want)
		}
	}
	if code != http.StatusOK || strings.Contains(body, "<script>x") {
		t.Fatalf("rollout: %d\n%s", code, body)
	}
	if code, _ := get("/fleets/acme/shop/rollouts/8"); code != http.StatusNotFound {
		t.Errorf("unknown rollout: %d", code)
	}
	if code, body := get("/fleets/acme/secret/rollouts/7"); code != http.StatusNotFound || strings.Contains(body, "bolt") {
		t.Errorf("unreadable repository: %d", code)
	}
}
