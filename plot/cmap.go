package plot

import (
	"image/color"
	"math"
)

// ColorMap names the colour maps used by the figures.
type ColorMap int

const (
	// Sequential is viridis (dark purple → yellow), for brightness and
	// standard deviations.
	Sequential ColorMap = iota
	// Diverging runs blue → light grey → red (Moreland's cool-warm), for
	// signed residuals; the centre of the range is the grey.
	Diverging
)

// Control colours, evenly spaced on [0, 1]. Viridis sampled at ten points
// (van der Walt & Smith); cool-warm from Moreland (2009).
var (
	viridisStops = [...]color.NRGBA{
		{0x44, 0x01, 0x54, 0xff}, {0x48, 0x28, 0x78, 0xff}, {0x3e, 0x49, 0x89, 0xff},
		{0x31, 0x68, 0x8e, 0xff}, {0x26, 0x82, 0x8e, 0xff}, {0x1f, 0x9e, 0x89, 0xff},
		{0x35, 0xb7, 0x79, 0xff}, {0x6e, 0xce, 0x58, 0xff}, {0xb5, 0xde, 0x2b, 0xff},
		{0xfd, 0xe7, 0x25, 0xff},
	}
	coolWarmStops = [...]color.NRGBA{
		{0x3b, 0x4c, 0xc0, 0xff}, {0x62, 0x82, 0xea, 0xff}, {0x8d, 0xb0, 0xfe, 0xff},
		{0xb8, 0xd0, 0xf9, 0xff}, {0xdd, 0xdd, 0xdd, 0xff}, {0xf5, 0xc4, 0xac, 0xff},
		{0xf4, 0x9a, 0x7b, 0xff}, {0xde, 0x60, 0x4d, 0xff}, {0xb4, 0x04, 0x26, 0xff},
	}
)

// NaNColor is the colour of NaN (masked or undefined) pixels: a neutral
// mid grey that belongs to neither colour map.
func NaNColor() color.NRGBA { return color.NRGBA{0x80, 0x80, 0x80, 0xff} }

// At returns the colour of t ∈ [0, 1] (values outside are clamped; NaN
// gives NaNColor), interpolating linearly between the control colours.
func (m ColorMap) At(t float64) color.NRGBA {
	if math.IsNaN(t) {
		return NaNColor()
	}
	stops := viridisStops[:]
	if m == Diverging {
		stops = coolWarmStops[:]
	}
	t = math.Max(0, math.Min(1, t))
	x := t * float64(len(stops)-1)
	i := int(x)
	if i >= len(stops)-1 {
		return stops[len(stops)-1]
	}
	f := x - float64(i)
	a, b := stops[i], stops[i+1]
	mix := func(p, q uint8) uint8 { return uint8(math.Round(float64(p) + f*(float64(q)-float64(p)))) }
	return color.NRGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 0xff}
}
