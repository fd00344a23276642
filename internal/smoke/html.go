package smoke

import (
	"bytes"
	"fmt"
	"html/template"
)

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(r float64) string { return fmt.Sprintf("%.3f%%", r*100) },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.R.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{padding:16px 24px;background:#fff;border-bottom:1px solid #d0d7de}
h1{font-size:20px;margin:0 0 4px}
.meta{color:#59636e}
main{padding:16px 24px;display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:16px}
article{background:#fff;border:1px solid #d0d7de;border-radius:6px;overflow:hidden}
article h2{font-size:14px;margin:0;padding:8px 12px;border-bottom:1px solid #d0d7de;word-break:break-all}
.c-success h2{border-left:4px solid #1a7f37}.c-failure h2{border-left:4px solid #cf222e}.c-neutral h2{border-left:4px solid #9a6700}
.badge{display:inline-block;padding:0 6px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.b-success{background:#1a7f37}.b-failure{background:#cf222e}.b-neutral{background:#9a6700}
ul{margin:6px 0;padding:0 12px 0 28px}
li{margin:2px 0;word-break:break-word}
.warn{color:#59636e}
.info{padding:6px 12px;color:#59636e}
.shot{display:block;max-height:480px;overflow:hidden;border-top:1px solid #d0d7de}
.shot img{width:100%;display:block}
code{font-size:12px}
</style></head>
<body>
<header>
<h1><span class="badge b-{{.R.Conclusion}}">{{.R.Conclusion}}</span> {{.R.Title}}</h1>
<div class="meta">{{.R.BaseURL}} · {{.R.StartedAt.Format "2006-01-02 15:04:05 UTC"}} · {{.R.DurationMS}} ms{{if .R.Changed}} · changed: {{range $i, $c := .R.Changed}}{{if $i}}, {{end}}{{$c}}{{end}}{{end}}</div>
</header>
<main>
{{range .Pages}}<article class="c-{{.P.Conclusion}}" id="{{.Anchor}}">
<h2>{{.P.Path}} <span class="meta">· {{.P.Viewport}}</span></h2>
<div class="info">HTTP {{if .P.Status}}{{.P.Status}}{{else}}—{{end}} · load {{.P.LoadMS}} ms{{if .P.LinkedFrom}} · linked from <code>{{.P.LinkedFrom}}</code>{{end}}{{with .P.Visual}} · visual: {{.Status}}{{if .ChangedPixels}} ({{pct .ChangedRatio}}){{end}}{{if .Note}} — {{.Note}}{{end}}{{end}}</div>
{{if .P.Findings}}<ul>{{range .P.Findings}}<li class="{{if not .Fails}}warn{{end}}"><strong>{{.Kind}}</strong>{{if not .Fails}} (warning){{end}}: {{.Message}}{{if .Resource}} — <code>{{.Resource}}</code>{{end}}</li>{{end}}</ul>{{end}}
{{if .Shot}}<a class="shot" href="{{.Shot}}"><img loading="lazy" src="{{.Shot}}" alt="Screenshot of {{.P.Path}} at {{.P.Viewport}}"></a>{{end}}
{{if .Diff}}<div class="info"><a href="{{.Diff}}">diff image</a>{{if .Base}} · <a href="{{.Base}}">baseline</a>{{end}}</div>{{end}}
</article>
{{end}}</main>
</body></html>
`))

type htmlPage struct {
	P                PageResult
	Anchor           string
	Shot, Diff, Base string
}

// RenderHTML renders the report as one self-contained page listing every
// page with its findings and screenshot. artifactURL turns a screenshot's
// SHA256 into the URL it is served at (public, for a check run's
// details_url, or relative, for a report folder).
func RenderHTML(r *Report, artifactURL func(sha string) string) ([]byte, error) {
	data := struct {
		R     *Report
		Pages []htmlPage
	}{R: r}
	for i, p := range r.Pages {
		hp := htmlPage{P: p, Anchor: fmt.Sprintf("p%d", i)}
		if p.Screenshot != nil {
			hp.Shot = artifactURL(p.Screenshot.SHA256)
		}
		if p.Visual != nil && p.Visual.DiffSHA != "" {
			hp.Diff = artifactURL(p.Visual.DiffSHA)
			hp.Base = artifactURL(p.Visual.BaselineSHA)
		}
		data.Pages = append(data.Pages, hp)
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render report: %w", err)
	}
	return buf.Bytes(), nil
}
