package smoke

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hoist-dev/hoist/config"
)

func TestConfigOptions(t *testing.T) {
	doc := `
version: 1
site: { root: public }
smoke:
  viewports: [ { name: desktop, width: 1280, height: 800 }, { name: mobile, width: 390, height: 844 } ]
  pages: [ { path: /, expect_text: "Shop" }, { path: /products/, expect_selector: ".product", max_load_ms: 1500 } ]
  crawl: { max_pages: 50 }
  fail_on: [ http_error, console_error, failed_request ]
`
	c, err := config.LoadRepoConfig("hoist.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	o, err := ConfigOptions(c.Smoke)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Viewports) != 2 || o.Viewports[1] != (Viewport{"mobile", 390, 844}) {
		t.Errorf("viewports %+v", o.Viewports)
	}
	if len(o.Pages) != 2 || o.Pages[1] != (Page{Path: "/products/", ExpectSelector: ".product", MaxLoadMS: 1500}) || o.Pages[0].ExpectText != "Shop" {
		t.Errorf("pages %+v", o.Pages)
	}
	if o.Crawl.MaxPages != 50 || len(o.FailOn) != 3 || o.FailOn[2] != KindFailedRequest {
		t.Errorf("crawl %+v fail_on %v", o.Crawl, o.FailOn)
	}
	// The defaults of the configuration are the runner's own.
	c, err = config.LoadRepoConfig("hoist.yml", []byte("version: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o, err = ConfigOptions(c.Smoke); err != nil {
		t.Fatal(err)
	}
	d := (&Options{}).withDefaults()
	if !reflect.DeepEqual(o.Pages, d.Pages) || !reflect.DeepEqual(o.Viewports, d.Viewports) || !reflect.DeepEqual(o.FailOn, d.FailOn) || o.Crawl != d.Crawl {
		t.Errorf("defaults of the config %+v differ from the runner's %+v", o, d)
	}
}

func TestConfigOptionsRefusesUnknownKind(t *testing.T) {
	_, err := ConfigOptions(config.RepoSmoke{FailOn: []string{"http_error", "http_eror"}})
	if err == nil || !strings.Contains(err.Error(), `smoke.fail_on[1]: unknown finding kind "http_eror"`) {
		t.Fatalf("fail_on error: %v", err)
	}
}

func sampleReport() *Report {
	r := &Report{
		Schema: SchemaVersion, BaseURL: "http://127.0.0.1:1234", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		FailOn: []Kind{KindHTTPError, KindConsoleError},
		Pages: []PageResult{
			{Path: "/", Viewport: "desktop", Status: 200, Screenshot: &Shot{SHA256: strings.Repeat("a", 64)}},
			{Path: "/x", Viewport: "desktop", Status: 200, Findings: []Finding{{Kind: KindConsoleError, Message: "<b>boom</b>"}, {Kind: KindConsoleError, Message: "again"}},
				Screenshot: &Shot{SHA256: strings.Repeat("b", 64)}},
			{Path: "/y", Viewport: "desktop", Status: 200, Findings: []Finding{{Kind: KindSlow, Message: "slow"}}},
		},
	}
	r.conclude()
	return r
}

func TestConclusionsAndTitle(t *testing.T) {
	r := sampleReport()
	if r.Conclusion != Failure || r.Pages[0].Conclusion != Success || r.Pages[1].Conclusion != Failure || r.Pages[2].Conclusion != Neutral {
		t.Fatalf("conclusions %s %s %s %s", r.Conclusion, r.Pages[0].Conclusion, r.Pages[1].Conclusion, r.Pages[2].Conclusion)
	}
	if r.Title != "1/3 pages OK · 2 console errors · 1 slow page" {
		t.Fatalf("title %q", r.Title)
	}
	r.Pages = r.Pages[2:]
	r.conclude()
	if r.Conclusion != Neutral {
		t.Fatalf("only warnings: %s", r.Conclusion)
	}
}

func TestReportJSONSchema(t *testing.T) {
	b, err := MarshalReport(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "base_url", "started_at", "duration_ms", "conclusion", "title", "fail_on", "pages", "stats"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	p := m["pages"].([]any)[1].(map[string]any)
	for _, k := range []string{"path", "viewport", "url", "status", "load_ms", "findings", "screenshot", "conclusion"} {
		if _, ok := p[k]; !ok {
			t.Errorf("page lacks %q", k)
		}
	}
	f := p["findings"].([]any)[0].(map[string]any)
	if f["kind"] != "console_error" || f["fails"] != true {
		t.Errorf("finding %v", f)
	}
	if strings.Contains(string(b), `"PNG"`) || strings.Contains(string(b), "order") {
		t.Error("report JSON carries internal fields")
	}
}

func TestRenderHTML(t *testing.T) {
	r := sampleReport()
	page, err := RenderHTML(r, func(sha string) string { return "https://hoist.example/artifacts/" + sha + ".png" })
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{
		"<title>1/3 pages OK · 2 console errors · 1 slow page</title>",
		`src="https://hoist.example/artifacts/` + strings.Repeat("a", 64) + `.png"`,
		`src="https://hoist.example/artifacts/` + strings.Repeat("b", 64) + `.png"`,
		"&lt;b&gt;boom&lt;/b&gt;", // page text is escaped
		"<strong>slow</strong> (warning)",
		`<h2>/y <span class="meta">· desktop</span></h2>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}
