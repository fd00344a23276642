package smoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// page draws a synthetic page: white with gray text-like bars, and a box of
// the given color at (x, y).
func pagePNG(t testing.TB, w, h int, box color.NRGBA, x, y int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for py := 0; py < h; py++ {
		for px := 0; px < w; px++ {
			c := color.NRGBA{255, 255, 255, 255}
			if py%20 < 6 && px%50 < 40 {
				c = color.NRGBA{60, 60, 60, 255}
			}
			if px >= x && px < x+40 && py >= y && py < y+30 {
				c = box
			}
			img.SetNRGBA(px, py, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func shotOf(b []byte) *Shot {
	s := sha256.Sum256(b)
	return &Shot{SHA256: hex.EncodeToString(s[:]), PNG: b}
}

func reportWith(shots map[string][]byte) *Report {
	r := &Report{}
	for _, path := range []string{"/a", "/b", "/c", "/d"} {
		if b, ok := shots[path]; ok {
			r.Pages = append(r.Pages, PageResult{Path: path, Viewport: "desktop", Screenshot: shotOf(b)})
		}
	}
	return r
}

func TestCompareVisual(t *testing.T) {
	ctx := context.Background()
	store, err := NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blue := color.NRGBA{0, 0, 255, 255}
	same := pagePNG(t, 200, 150, blue, 10, 10)
	moved := pagePNG(t, 200, 150, blue, 120, 90)
	// A shade no eye tells apart: below pixelmatch's 0.1 threshold.
	nearBlue := pagePNG(t, 200, 150, color.NRGBA{0, 0, 235, 255}, 10, 10)
	taller := pagePNG(t, 200, 180, blue, 10, 10)

	base := reportWith(map[string][]byte{"/a": same, "/b": same, "/c": same, "/d": same})
	for _, p := range base.Pages {
		// Baseline shots come from the store, as they would from a previous run.
		if _, err := store.Put(ctx, p.Screenshot.PNG); err != nil {
			t.Fatal(err)
		}
		p.Screenshot.PNG = nil
	}
	cur := reportWith(map[string][]byte{"/a": same, "/b": moved, "/c": nearBlue, "/d": taller})
	cur.Pages = append(cur.Pages, PageResult{Path: "/new", Viewport: "desktop", Screenshot: shotOf(same)})

	if err := CompareVisual(ctx, cur, base, store, VisualOptions{}); err != nil {
		t.Fatal(err)
	}
	got := map[string]*Visual{}
	for _, p := range cur.Pages {
		got[p.Path] = p.Visual
	}
	if v := got["/a"]; v.Status != VisualIdentical || v.DiffSHA != "" || v.ChangedPixels != 0 {
		t.Errorf("identical: %+v", v)
	}
	if v := got["/b"]; v.Status != VisualChanged || v.ChangedRatio <= 0 || v.ChangedPixels < 2*40*30-100 || v.DiffSHA == "" {
		t.Errorf("moved box: %+v", v)
	}
	if v := got["/c"]; v.Status != VisualUnchanged || v.ChangedPixels != 0 {
		t.Errorf("shade below threshold: %+v", v)
	}
	if v := got["/d"]; v.Status != VisualChanged || v.Note != "size changed from 200x150 to 200x180" || v.ChangedPixels < 200*30 {
		t.Errorf("size change: %+v", v)
	}
	if v := got["/new"]; v.Status != VisualNew {
		t.Errorf("new page: %+v", v)
	}
	if len(cur.Changed) != 2 || cur.Changed[0] != "/b (desktop)" || cur.Changed[1] != "/d (desktop)" {
		t.Errorf("changed list %v", cur.Changed)
	}
	// The diff image is in the store, as a PNG the size of the page.
	rc, err := store.Open(ctx, got["/b"].DiffSHA)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	img, err := png.Decode(rc)
	if err != nil || img.Bounds().Dx() != 200 || img.Bounds().Dy() != 150 {
		t.Fatalf("diff image: %v %v", err, img.Bounds())
	}
	if r, g, b, _ := img.At(130, 100).RGBA(); r>>8 != 255 || g != 0 || b != 0 {
		t.Errorf("changed pixel not red in diff: %d %d %d", r>>8, g>>8, b>>8)
	}

	// A stricter threshold sees the near-identical shade.
	if err := CompareVisual(ctx, cur, base, store, VisualOptions{Threshold: 0.02}); err != nil {
		t.Fatal(err)
	}
	if v := cur.Pages[2].Visual; v.Status != VisualChanged || v.ChangedPixels != 40*30 {
		t.Errorf("strict threshold: %+v", v)
	}
	// A tolerated ratio lets a small change pass.
	if err := CompareVisual(ctx, cur, base, store, VisualOptions{MaxChangedRatio: 0.2}); err != nil {
		t.Fatal(err)
	}
	if v := cur.Pages[1].Visual; v.Status != VisualUnchanged || v.ChangedRatio <= 0 || v.ChangedRatio > 0.2 {
		t.Errorf("tolerated ratio: %+v", v)
	}
}

func TestPixelDiffIgnoresAntialiasing(t *testing.T) {
	// A hard black/white edge, and the same edge with a gray step between:
	// the gray column is anti-aliasing, not a change.
	const w, h = 8, 8
	a := make([]uint8, w*h*4)
	b := make([]uint8, w*h*4)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 4
			va, vb := uint8(255), uint8(255)
			if x < 4 {
				va, vb = 0, 0
			}
			if x == 4 {
				vb = 128
			}
			copy(a[i:], []uint8{va, va, va, 255})
			copy(b[i:], []uint8{vb, vb, vb, 255})
		}
	}
	if n := PixelDiff(a, b, nil, w, h, DefaultDiffOptions); n != 0 {
		t.Errorf("anti-aliased edge counted as %d changed pixels", n)
	}
	o := DefaultDiffOptions
	o.IncludeAA = true
	if n := PixelDiff(a, b, nil, w, h, o); n != h {
		t.Errorf("with IncludeAA: %d changed pixels, want %d", n, h)
	}
}

func BenchmarkPixelDiff(b *testing.B) {
	// A desktop page at half scale: 640x2000, one changed region.
	blue := color.NRGBA{0, 0, 255, 255}
	decode := func(p []byte) []uint8 {
		img, err := decodeNRGBA(p)
		if err != nil {
			b.Fatal(err)
		}
		return img.Pix
	}
	a := decode(pagePNG(b, 640, 2000, blue, 10, 10))
	c := decode(pagePNG(b, 640, 2000, blue, 300, 900))
	out := make([]uint8, len(a))
	b.SetBytes(int64(len(a)))
	b.ResetTimer()
	for b.Loop() {
		PixelDiff(a, c, out, 640, 2000, DefaultDiffOptions)
	}
}

func BenchmarkDiffPNG(b *testing.B) {
	blue := color.NRGBA{0, 0, 255, 255}
	a := pagePNG(b, 640, 2000, blue, 10, 10)
	c := pagePNG(b, 640, 2000, blue, 300, 900)
	for b.Loop() {
		if _, err := DiffPNG(a, c, DefaultDiffOptions); err != nil {
			b.Fatal(err)
		}
	}
}
