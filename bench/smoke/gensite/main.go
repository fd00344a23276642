// Command gensite writes the benchmark site of bench/smoke: N pages that
// each load a shared stylesheet, a shared script, a page script and two
// images, like a small shop. With -serve it also serves the folder through
// hoist's private preview server and prints its URL.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/hoist-dev/hoist/internal/site"
)

func main() {
	out := flag.String("out", "out/site", "folder to write the site to")
	pages := flag.Int("pages", 20, "number of pages")
	serve := flag.Bool("serve", false, "serve the folder on 127.0.0.1 and print its URL until interrupted")
	flag.Parse()
	if err := write(*out, *pages); err != nil {
		fmt.Fprintln(os.Stderr, "gensite:", err)
		os.Exit(1)
	}
	if !*serve {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tree, err := site.NewDirTree(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gensite:", err)
		os.Exit(1)
	}
	p, err := site.ServePreview(ctx, tree)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gensite:", err)
		os.Exit(1)
	}
	fmt.Println(p.URL())
	<-ctx.Done()
	p.Close()
}

func write(dir string, n int) error {
	files := map[string][]byte{
		"css/site.css": []byte(css),
		"js/site.js":   []byte(siteJS),
		"favicon.ico":  pngBytes(16, 16, color.NRGBA{45, 108, 223, 255}),
	}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("page-%02d.html", i)
		if i == 1 {
			name = "index.html"
		}
		files[name] = []byte(pageHTML(i, n))
		files[fmt.Sprintf("js/page-%02d.js", i)] = []byte(fmt.Sprintf("document.getElementById('count').textContent = %d * 3;\n", i))
		files[fmt.Sprintf("img/hero-%02d.png", i)] = pngBytes(600, 240, color.NRGBA{uint8(30 + i*9), 120, uint8(220 - i*7), 255})
		files[fmt.Sprintf("img/thumb-%02d.svg", i)] = []byte(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="120" height="120"><rect width="120" height="120" rx="12" fill="hsl(%d,60%%,55%%)"/></svg>`, i*18))
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func pageHTML(i, n int) string {
	var nav strings.Builder
	for j := 1; j <= n; j++ {
		href := fmt.Sprintf("/page-%02d.html", j)
		if j == 1 {
			href = "/"
		}
		fmt.Fprintf(&nav, `<a href="%s">Page %d</a> `, href, j)
	}
	var products strings.Builder
	for k := 1; k <= 12; k++ {
		fmt.Fprintf(&products, `<div class="product"><img src="/img/thumb-%02d.svg" width="60" height="60" alt=""><h3>Product %d-%d</h3><p>A fine thing, carefully made, shipped fast.</p><span class="price">%d.00 €</span></div>`, (i+k)%n+1, i, k, 10+k*i%37)
	}
	return fmt.Sprintf(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop page %[1]d</title><link rel="stylesheet" href="/css/site.css">
<script src="/js/site.js" defer></script><script src="/js/page-%02[1]d.js" defer></script></head>
<body><header><h1>Shop</h1><nav>%[2]s</nav></header>
<main><h2>Page %[1]d</h2><img class="hero" src="/img/hero-%02[1]d.png" width="600" height="240" alt="">
<p>Items on this page: <span id="count">?</span></p><section class="grid">%[3]s</section></main>
<footer>© Shop</footer></body></html>
`, i, nav.String(), products.String())
}

func pngBytes(w, h int, c color.NRGBA) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := uint8((x + y) % 32)
			img.SetNRGBA(x, y, color.NRGBA{c.R - d/2, c.G, c.B + d/4, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

const css = `body{font-family:"DejaVu Sans",sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#2d6cdf;color:#fff;padding:16px 24px}header a{color:#fff;margin-right:6px;font-size:13px}
main{padding:24px;max-width:1100px;margin:auto}.hero{max-width:100%;height:auto;border-radius:8px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:16px}
.product{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px}.price{font-weight:bold}
footer{padding:24px;text-align:center;color:#777}
`

const siteJS = `document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".product").forEach(function (p, i) { p.dataset.index = i; });
});
`
