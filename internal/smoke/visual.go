package smoke

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
)

// VisualStatus says how a page's screenshot compares with its baseline.
type VisualStatus string

const (
	// VisualIdentical: byte-identical PNGs; no pixel comparison was needed.
	VisualIdentical VisualStatus = "identical"
	// VisualUnchanged: pixels differ no more than the allowed ratio.
	VisualUnchanged VisualStatus = "unchanged"
	// VisualChanged: more pixels differ than allowed, or the size changed.
	VisualChanged VisualStatus = "changed"
	// VisualNew: the baseline has no screenshot of this page.
	VisualNew VisualStatus = "new"
)

// Visual is the comparison of a page's screenshot with the baseline's.
type Visual struct {
	Status        VisualStatus `json:"status"`
	BaselineSHA   string       `json:"baseline_sha256,omitempty"`
	ChangedPixels int          `json:"changed_pixels"`
	ChangedRatio  float64      `json:"changed_ratio"`
	// DiffSHA names the diff image in the artifact store.
	DiffSHA string `json:"diff_sha256,omitempty"`
	Note    string `json:"note,omitempty"`
}

// VisualOptions tune CompareVisual.
type VisualOptions struct {
	// Threshold is pixelmatch's per-pixel color threshold (default 0.1).
	Threshold float64
	// MaxChangedRatio is the share of differing pixels still counted as
	// unchanged (default 0: any differing pixel is a change).
	MaxChangedRatio float64
	// IncludeAA counts anti-aliased pixels as changes.
	IncludeAA bool
}

// CompareVisual compares each page of cur with the same page and viewport
// of baseline (the environment's current head), loading screenshots from
// store (or from memory for cur), storing diff images there, and lists the
// changed pages in cur.Changed. The conclusion is left as it is: a visual
// change is information for the reviewer, not an error.
func CompareVisual(ctx context.Context, cur, baseline *Report, store ArtifactStore, o VisualOptions) error {
	if o.Threshold <= 0 {
		o.Threshold = DefaultDiffOptions.Threshold
	}
	base := map[string]*Shot{}
	if baseline != nil {
		for _, p := range baseline.Pages {
			if p.Screenshot != nil {
				base[p.Key()] = p.Screenshot
			}
		}
	}
	cur.Changed = nil
	for i := range cur.Pages {
		p := &cur.Pages[i]
		if p.Screenshot == nil {
			continue
		}
		b, ok := base[p.Key()]
		if !ok {
			p.Visual = &Visual{Status: VisualNew}
			continue
		}
		v := &Visual{BaselineSHA: b.SHA256}
		p.Visual = v
		if b.SHA256 == p.Screenshot.SHA256 {
			v.Status = VisualIdentical
			continue
		}
		curPNG, err := shotBytes(ctx, p.Screenshot, store)
		if err != nil {
			return fmt.Errorf("visual %s: %w", p.Key(), err)
		}
		basePNG, err := shotBytes(ctx, b, store)
		if err != nil {
			return fmt.Errorf("visual %s: baseline: %w", p.Key(), err)
		}
		d, err := DiffPNG(basePNG, curPNG, DiffOptions{Threshold: o.Threshold, IncludeAA: o.IncludeAA, Alpha: DefaultDiffOptions.Alpha})
		if err != nil {
			return fmt.Errorf("visual %s: %w", p.Key(), err)
		}
		v.ChangedPixels, v.ChangedRatio = d.Changed, d.Ratio
		switch {
		case d.SizeChanged:
			v.Status = VisualChanged
			v.Note = fmt.Sprintf("size changed from %dx%d to %dx%d", d.Size1.X, d.Size1.Y, d.Size2.X, d.Size2.Y)
		case d.Ratio > o.MaxChangedRatio:
			v.Status = VisualChanged
		default:
			v.Status = VisualUnchanged
		}
		if d.Changed > 0 || d.SizeChanged {
			if v.DiffSHA, err = store.Put(ctx, d.PNG); err != nil {
				return fmt.Errorf("visual %s: store diff: %w", p.Key(), err)
			}
		}
		if v.Status == VisualChanged {
			cur.Changed = append(cur.Changed, p.Key())
		}
	}
	cur.Title = cur.title()
	return nil
}

func shotBytes(ctx context.Context, s *Shot, store ArtifactStore) ([]byte, error) {
	if s.PNG != nil {
		return s.PNG, nil
	}
	rc, err := store.Open(ctx, s.SHA256)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// PNGDiff is the result of DiffPNG.
type PNGDiff struct {
	Changed     int
	Ratio       float64
	SizeChanged bool
	Size1       image.Point
	Size2       image.Point
	// PNG is the diff image, as wide and as tall as the larger image;
	// pixels outside the smaller image count as changed.
	PNG []byte
}

// DiffPNG compares two PNGs pixel by pixel with PixelDiff.
func DiffPNG(a, b []byte, o DiffOptions) (*PNGDiff, error) {
	ia, err := decodeNRGBA(a)
	if err != nil {
		return nil, fmt.Errorf("first image: %w", err)
	}
	ib, err := decodeNRGBA(b)
	if err != nil {
		return nil, fmt.Errorf("second image: %w", err)
	}
	d := &PNGDiff{Size1: ia.Rect.Size(), Size2: ib.Rect.Size()}
	d.SizeChanged = d.Size1 != d.Size2
	w, h := max(d.Size1.X, d.Size2.X), max(d.Size1.Y, d.Size2.Y)
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	if !d.SizeChanged {
		d.Changed = PixelDiff(ia.Pix, ib.Pix, out.Pix, w, h, o)
	} else {
		// Compare the common area; every pixel only one image has is a
		// change, drawn red.
		ow, oh := min(d.Size1.X, d.Size2.X), min(d.Size1.Y, d.Size2.Y)
		ca, cb := crop(ia, ow, oh), crop(ib, ow, oh)
		co := image.NewNRGBA(image.Rect(0, 0, ow, oh))
		d.Changed = PixelDiff(ca.Pix, cb.Pix, co.Pix, ow, oh, o) + w*h - ow*oh
		for i := range out.Pix {
			out.Pix[i] = 255
			if i%4 == 1 || i%4 == 2 {
				out.Pix[i] = 0
			}
		}
		draw.Draw(out, co.Rect, co, image.Point{}, draw.Src)
	}
	if w*h > 0 {
		d.Ratio = float64(d.Changed) / float64(w*h)
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, out); err != nil {
		return nil, fmt.Errorf("encode diff: %w", err)
	}
	d.PNG = buf.Bytes()
	return d, nil
}

// decodeNRGBA decodes a PNG into tightly packed non-premultiplied RGBA.
func decodeNRGBA(b []byte) (*image.NRGBA, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r := img.Bounds()
	if n, ok := img.(*image.NRGBA); ok && n.Stride == 4*r.Dx() && r.Min == (image.Point{}) {
		return n, nil
	}
	if rgba, ok := img.(*image.RGBA); ok && rgba.Stride == 4*r.Dx() && r.Min == (image.Point{}) && opaque(rgba.Pix) {
		// Opaque premultiplied pixels are the same bytes unpremultiplied.
		return &image.NRGBA{Pix: rgba.Pix, Stride: rgba.Stride, Rect: rgba.Rect}, nil
	}
	n := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(n, n.Rect, img, r.Min, draw.Src)
	return n, nil
}

func opaque(pix []uint8) bool {
	for i := 3; i < len(pix); i += 4 {
		if pix[i] != 255 {
			return false
		}
	}
	return true
}

// crop copies the top-left w×h of img into a tightly packed image.
func crop(img *image.NRGBA, w, h int) *image.NRGBA {
	n := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		copy(n.Pix[y*n.Stride:y*n.Stride+4*w], img.Pix[y*img.Stride:y*img.Stride+4*w])
	}
	return n
}
