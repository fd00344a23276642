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

// groupList is a GroupSource over a fixed list.
type groupList []web.GroupPromotion

func (g groupList) GroupPromotions(_ context.Context, repo string) ([]web.GroupPromotion, error) {
	if repo != "acme/shop" {
		return nil, nil
	}
	return g, nil
}

// A repository in a release group shows the group's newest promotion:
// its state, when, why, and each member's commit and state, escaped.
func TestDashboardShowsReleaseGroups(t *testing.T) {
	w := newWorld(t, nil)
	groups := groupList{{Group: "web", Env: "production", Phase: "refused", At: time.Now().Add(-5 * time.Minute),
		Reason: `acme/backend: Gate checks failed: <script>alert(1)</script>`,
		Members: []web.GroupMember{
			{Repo: "acme/shop", SHA: "1a2b3c4d5e6f", State: "up to date"},
			{Repo: "acme/backend", SHA: "9f8e7d6c5b4a", State: "refused"},
		}}}
	dash := web.NewDashboard(web.DashboardOptions{Groups: groups, Access: fixedAccess{"acme/shop": w.inst}, Audit: w.st, Clients: w.cc})
	mux := http.NewServeMux()
	dash.Mount(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/repos/acme/shop", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, body)
	}
	i := strings.Index(body, "<h3>Release groups</h3>")
	if i < 0 {
		t.Fatalf("no release groups section:\n%s", body)
	}
	section := body[i:]
	section = section[:strings.Index(section, "</table>")]
	for _, want := range []string{"<strong>web</strong>", "<td>production</td>", `<span class="badge bad">refused</span>`, "5 min",
		"acme/shop <code>1a2b3c4</code> <small>up to date</small>", "acme/backend <code>9f8e7d6</code> <small>refused</small>",
		"&lt;script&gt;alert(1)&lt;/script&gt;"} {
		if !strings.Contains(section, want) {
			t.Errorf("release groups section lacks %q:\n%s", want, section)
		}
	}
	if strings.Contains(body, "<script>alert(1)") {
		t.Error("the reason is not escaped")
	}
}
