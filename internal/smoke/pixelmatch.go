package smoke

import "math"

// This file is a Go port of mapbox/pixelmatch (ISC license, Copyright (c)
// 2019, Mapbox): a perceptual color distance in YIQ space with detection of
// anti-aliased pixels. It is written here because no maintained Go port of
// pixelmatch is available from the module proxy's well-known packages; the
// algorithm is ~150 lines and its behaviour is pinned by tests.

// DiffOptions tune PixelDiff.
type DiffOptions struct {
	// Threshold is the matching threshold, 0 to 1; smaller is more
	// sensitive. pixelmatch's default is 0.1.
	Threshold float64
	// IncludeAA counts anti-aliased pixels as different (default: they are
	// detected and left out).
	IncludeAA bool
	// Alpha is the opacity of the unchanged pixels in the diff image (0.1).
	Alpha float64
}

// DefaultDiffOptions are pixelmatch's defaults.
var DefaultDiffOptions = DiffOptions{Threshold: 0.1, Alpha: 0.1}

var (
	diffColor = [3]uint8{255, 0, 0}
	aaColor   = [3]uint8{255, 255, 0}
)

// PixelDiff compares two images of the same size given as non-premultiplied
// RGBA bytes (4 per pixel, rows without padding) and returns how many pixels
// differ. When out is not nil (same length) it receives the diff image: the
// first image faded to gray, differing pixels red, anti-aliased ones yellow.
func PixelDiff(img1, img2, out []uint8, width, height int, o DiffOptions) int {
	n := width * height * 4
	if len(img1) < n || len(img2) < n || (out != nil && len(out) < n) {
		panic("smoke: PixelDiff: buffers smaller than width*height*4")
	}
	identical := true
	for i := 0; i < n; i++ {
		if img1[i] != img2[i] {
			identical = false
			break
		}
	}
	if identical {
		if out != nil {
			for pos := 0; pos < n; pos += 4 {
				drawGrayPixel(img1, pos, o.Alpha, out)
			}
		}
		return 0
	}

	// The largest possible YIQ distance is 35215; the threshold is a share
	// of it, squared as the distance is.
	maxDelta := 35215 * o.Threshold * o.Threshold
	diff := 0
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			pos := (y*width + x) * 4
			delta := colorDelta(img1, img2, pos, pos, false)
			if math.Abs(delta) > maxDelta {
				if !o.IncludeAA && (antialiased(img1, x, y, width, height, img2) || antialiased(img2, x, y, width, height, img1)) {
					if out != nil {
						drawPixel(out, pos, aaColor)
					}
				} else {
					if out != nil {
						drawPixel(out, pos, diffColor)
					}
					diff++
				}
			} else if out != nil {
				drawGrayPixel(img1, pos, o.Alpha, out)
			}
		}
	}
	return diff
}

// antialiased tells whether the pixel at (x1, y1) is likely part of an
// anti-aliased edge, after "Anti-aliased Pixel and Intensity Slope
// Detector" by V. Vysniauskas, 2009.
func antialiased(img []uint8, x1, y1, width, height int, img2 []uint8) bool {
	x0, y0 := max(x1-1, 0), max(y1-1, 0)
	x2, y2 := min(x1+1, width-1), min(y1+1, height-1)
	pos := (y1*width + x1) * 4
	zeroes := 0
	if x1 == x0 || x1 == x2 || y1 == y0 || y1 == y2 {
		zeroes = 1
	}
	var minD, maxD float64
	var minX, minY, maxX, maxY int
	for x := x0; x <= x2; x++ {
		for y := y0; y <= y2; y++ {
			if x == x1 && y == y1 {
				continue
			}
			delta := colorDelta(img, img, pos, (y*width+x)*4, true)
			switch {
			case delta == 0:
				zeroes++
				if zeroes > 2 {
					return false
				}
			case delta < minD:
				minD, minX, minY = delta, x, y
			case delta > maxD:
				maxD, maxX, maxY = delta, x, y
			}
		}
	}
	// No both darker and brighter neighbours: not an edge.
	if minD == 0 || maxD == 0 {
		return false
	}
	return (hasManySiblings(img, minX, minY, width, height) && hasManySiblings(img2, minX, minY, width, height)) ||
		(hasManySiblings(img, maxX, maxY, width, height) && hasManySiblings(img2, maxX, maxY, width, height))
}

// hasManySiblings tells whether the pixel has 3+ neighbours of exactly its
// color.
func hasManySiblings(img []uint8, x1, y1, width, height int) bool {
	x0, y0 := max(x1-1, 0), max(y1-1, 0)
	x2, y2 := min(x1+1, width-1), min(y1+1, height-1)
	pos := (y1*width + x1) * 4
	zeroes := 0
	if x1 == x0 || x1 == x2 || y1 == y0 || y1 == y2 {
		zeroes = 1
	}
	for x := x0; x <= x2; x++ {
		for y := y0; y <= y2; y++ {
			if x == x1 && y == y1 {
				continue
			}
			pos2 := (y*width + x) * 4
			if img[pos] == img[pos2] && img[pos+1] == img[pos2+1] && img[pos+2] == img[pos2+2] && img[pos+3] == img[pos2+3] {
				zeroes++
			}
			if zeroes > 2 {
				return true
			}
		}
	}
	return false
}

// colorDelta is the squared YIQ distance of two pixels, negative when the
// second is lighter; yOnly returns the brightness difference alone.
func colorDelta(img1, img2 []uint8, k, m int, yOnly bool) float64 {
	r1, g1, b1, a1 := float64(img1[k]), float64(img1[k+1]), float64(img1[k+2]), float64(img1[k+3])
	r2, g2, b2, a2 := float64(img2[m]), float64(img2[m+1]), float64(img2[m+2]), float64(img2[m+3])
	if a1 == a2 && r1 == r2 && g1 == g2 && b1 == b2 {
		return 0
	}
	if a1 < 255 {
		a1 /= 255
		r1, g1, b1 = blend(r1, a1), blend(g1, a1), blend(b1, a1)
	}
	if a2 < 255 {
		a2 /= 255
		r2, g2, b2 = blend(r2, a2), blend(g2, a2), blend(b2, a2)
	}
	y1, y2 := rgb2y(r1, g1, b1), rgb2y(r2, g2, b2)
	y := y1 - y2
	if yOnly {
		return y
	}
	i := rgb2i(r1, g1, b1) - rgb2i(r2, g2, b2)
	q := rgb2q(r1, g1, b1) - rgb2q(r2, g2, b2)
	delta := 0.5053*y*y + 0.299*i*i + 0.1957*q*q
	if y1 > y2 {
		return -delta
	}
	return delta
}

func rgb2y(r, g, b float64) float64 { return r*0.29889531 + g*0.58662247 + b*0.11448223 }
func rgb2i(r, g, b float64) float64 { return r*0.59597799 - g*0.27417610 - b*0.32180189 }
func rgb2q(r, g, b float64) float64 { return r*0.21147017 - g*0.52261711 + b*0.31114694 }

// blend composes a color channel over white with opacity a.
func blend(c, a float64) float64 { return 255 + (c-255)*a }

func drawPixel(out []uint8, pos int, c [3]uint8) {
	out[pos], out[pos+1], out[pos+2], out[pos+3] = c[0], c[1], c[2], 255
}

func drawGrayPixel(img []uint8, pos int, alpha float64, out []uint8) {
	v := blend(rgb2y(float64(img[pos]), float64(img[pos+1]), float64(img[pos+2])), alpha*float64(img[pos+3])/255)
	g := uint8(math.Max(0, math.Min(255, v)))
	out[pos], out[pos+1], out[pos+2], out[pos+3] = g, g, g, 255
}
