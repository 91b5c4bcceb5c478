package experiment

import (
	"fmt"
	"math"
	"unicode"
)

// pt is a point of a glyph in its unit box: x ∈ [0, 1] to the right,
// y ∈ [0, 1] upwards.
type pt struct{ x, y float64 }

// ellipse returns a closed polyline of n segments around (cx, cy).
func ellipse(cx, cy, rx, ry float64, n int) []pt {
	p := make([]pt, n+1)
	for i := range p {
		a := 2 * math.Pi * float64(i) / float64(n)
		p[i] = pt{cx + rx*math.Cos(a), cy + ry*math.Sin(a)}
	}
	return p
}

// strokes holds the polylines of the supported characters: a simple
// single-stroke font drawn in the unit box.
var strokes = map[rune][][]pt{
	'0': {ellipse(0.5, 0.5, 0.5, 0.5, 24)},
	'1': {{{0.25, 0.8}, {0.55, 1}, {0.55, 0}}, {{0.25, 0}, {0.85, 0}}},
	'2': {{{0, 0.75}, {0.15, 0.95}, {0.5, 1}, {0.85, 0.95}, {1, 0.75}, {0.9, 0.55}, {0, 0}, {1, 0}}},
	'3': {{{0, 0.9}, {0.5, 1}, {1, 0.8}, {0.9, 0.6}, {0.45, 0.52}, {0.95, 0.4}, {1, 0.2}, {0.5, 0}, {0, 0.1}}},
	'4': {{{0.75, 0}, {0.75, 1}, {0, 0.35}, {1, 0.35}}},
	'5': {{{1, 1}, {0.05, 1}, {0, 0.55}, {0.6, 0.62}, {1, 0.35}, {0.6, 0}, {0, 0.05}}},
	'6': {{{0.9, 1}, {0.35, 0.75}, {0, 0.3}, {0.2, 0}, {0.8, 0}, {1, 0.25}, {0.8, 0.5}, {0.2, 0.5}, {0.02, 0.3}}},
	'7': {{{0, 1}, {1, 1}, {0.35, 0}}},
	'8': {ellipse(0.5, 0.76, 0.38, 0.24, 20), ellipse(0.5, 0.26, 0.5, 0.26, 24)},
	'9': {{{0.1, 0}, {0.65, 0.25}, {1, 0.7}, {0.8, 1}, {0.2, 1}, {0, 0.75}, {0.2, 0.5}, {0.8, 0.5}, {0.98, 0.7}}},
	'A': {{{0, 0}, {0.5, 1}, {1, 0}}, {{0.25, 0.45}, {0.75, 0.45}}},
	'E': {{{1, 1}, {0, 1}, {0, 0}, {1, 0}}, {{0, 0.5}, {0.7, 0.5}}},
	'F': {{{1, 1}, {0, 1}, {0, 0}}, {{0, 0.5}, {0.7, 0.5}}},
	'H': {{{0, 0}, {0, 1}}, {{1, 0}, {1, 1}}, {{0, 0.5}, {1, 0.5}}},
	'K': {{{0, 0}, {0, 1}}, {{1, 1}, {0, 0.4}}, {{0.3, 0.6}, {1, 0}}},
	'L': {{{0, 1}, {0, 0}, {1, 0}}},
	'N': {{{0, 0}, {0, 1}, {1, 0}, {1, 1}}},
	'T': {{{0, 1}, {1, 1}}, {{0.5, 1}, {0.5, 0}}},
	'V': {{{0, 1}, {0.5, 0}, {1, 1}}},
	'X': {{{0, 0}, {1, 1}}, {{0, 1}, {1, 0}}},
	'Y': {{{0, 1}, {0.5, 0.5}, {1, 1}}, {{0.5, 0.5}, {0.5, 0}}},
	'Z': {{{0, 1}, {1, 1}, {0, 0}, {1, 0}}},
}

// GlyphChars lists the characters Glyph can draw.
const GlyphChars = "0123456789AEFHKLNTVXYZ"

// Glyph box within the image, as fractions of the side: the character's
// unit box is mapped to a GlyphWidth×GlyphHeight rectangle centred on the
// image.
const (
	GlyphWidth  = 0.4
	GlyphHeight = 0.6
)

// Glyph renders a glowing character on a side×side grid (row-major, row 0
// at the bottom): every pixel has brightness exp(−d²/2w²), d the distance
// in pixels from its centre to the nearest stroke, and the image is then
// scaled to peak 1. The character's unit box spans GlyphWidth × GlyphHeight
// of the image about its centre. Letters are upper-cased; the supported
// characters are GlyphChars.
func Glyph(ch rune, side int, w float64) ([]float64, error) {
	ch = unicode.ToUpper(ch)
	lines, ok := strokes[ch]
	if !ok {
		return nil, fmt.Errorf("experiment: glyph %q not available (have %s)", ch, GlyphChars)
	}
	if side < 4 {
		return nil, fmt.Errorf("experiment: glyph side must be ≥ 4, got %d", side)
	}
	if !(w > 0) || math.IsInf(w, 0) {
		return nil, fmt.Errorf("experiment: glyph stroke width must be positive and finite, got %g", w)
	}
	// Map the unit box to pixel coordinates (pixel centres at integers).
	c := float64(side-1) / 2
	bw, bh := GlyphWidth*float64(side), GlyphHeight*float64(side)
	toPix := func(p pt) pt { return pt{c + (p.x-0.5)*bw, c + (p.y-0.5)*bh} }
	var segs [][2]pt
	for _, l := range lines {
		for i := 1; i < len(l); i++ {
			segs = append(segs, [2]pt{toPix(l[i-1]), toPix(l[i])})
		}
	}
	img := make([]float64, side*side)
	peak := 0.0
	for r := range side {
		for col := range side {
			d2 := math.Inf(1)
			for _, s := range segs {
				d2 = math.Min(d2, segDist2(pt{float64(col), float64(r)}, s[0], s[1]))
			}
			v := math.Exp(-d2 / (2 * w * w))
			img[r*side+col] = v
			peak = math.Max(peak, v)
		}
	}
	for i := range img {
		img[i] /= peak
	}
	return img, nil
}

// segDist2 is the squared distance from p to the segment ab.
func segDist2(p, a, b pt) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, ((p.x-a.x)*dx+(p.y-a.y)*dy)/l2))
	}
	ex, ey := p.x-(a.x+t*dx), p.y-(a.y+t*dy)
	return ex*ex + ey*ey
}
