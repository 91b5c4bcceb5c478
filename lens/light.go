package lens

import (
	"fmt"
	"math"
)

// Grid is a square n×n pixel grid centred on the origin. Pixel (row, col)
// has its centre at (Coord(col), Coord(row)) with
// Coord(j) = (j − (N−1)/2)·Scale; row 0 is the most negative y (FITS order),
// col 0 the most negative x. Images on the grid are flattened row-major.
type Grid struct {
	N     int     // pixels per side
	Scale float64 // pixel size in arcsec
}

// Coord returns the centre coordinate of pixel index j along either axis.
func (g Grid) Coord(j int) float64 {
	return (float64(j) - 0.5*float64(g.N-1)) * g.Scale
}

// Len returns N².
func (g Grid) Len() int { return g.N * g.N }

func (g Grid) validate(what string) error {
	if g.N <= 0 {
		return fmt.Errorf("lens: %s grid: N must be > 0, got %d", what, g.N)
	}
	if !(g.Scale > 0) || math.IsInf(g.Scale, 0) {
		return fmt.Errorf("lens: %s grid: pixel scale must be finite and > 0, got %g", what, g.Scale)
	}
	return nil
}

// Light is a surface-brightness profile I(x, y).
type Light interface {
	Brightness(x, y float64) float64
}

// Sersic is the elliptical Sérsic profile
//
//	I(R) = Amp · exp(−b_n ((R/RSersic)^{1/n} − 1)),  b_n = 1.9992 n − 0.3271,
//
// with R = sqrt(q x'² + y'²/q) in the frame rotated by Phi about the centre,
// so Amp is the surface brightness at R = RSersic. Q = 1 is the round profile.
type Sersic struct {
	Amp              float64
	RSersic          float64
	NSersic          float64
	Q                float64
	Phi              float64
	CenterX, CenterY float64
}

// Brightness evaluates the profile at (x, y).
func (s Sersic) Brightness(x, y float64) float64 {
	xl, yl, _, _ := toLocal(x, y, s.CenterX, s.CenterY, s.Phi)
	r := math.Sqrt(s.Q*xl*xl + yl*yl/s.Q)
	bn := 1.9992*s.NSersic - 0.3271
	return s.Amp * math.Exp(-bn*(math.Pow(r/s.RSersic, 1/s.NSersic)-1))
}

// Lights is the sum of several light profiles.
type Lights []Light

// Brightness returns the summed brightness.
func (l Lights) Brightness(x, y float64) float64 {
	var v float64
	for _, p := range l {
		v += p.Brightness(x, y)
	}
	return v
}

// Render evaluates l on grid g, averaging super×super sub-pixel samples per
// pixel (super ≤ 1 samples the pixel centre only). The sub-pixel centres of
// pixel (row, col) are at Coord(col) + ((k+½)/super − ½)·Scale, likewise for y.
func Render(l Light, g Grid, super int) []float64 {
	if super < 1 {
		super = 1
	}
	out := make([]float64, g.Len())
	w := 1 / float64(super*super)
	for r := 0; r < g.N; r++ {
		for c := 0; c < g.N; c++ {
			var v float64
			for a := 0; a < super; a++ {
				y := g.Coord(r) + subOffset(a, super)*g.Scale
				for b := 0; b < super; b++ {
					x := g.Coord(c) + subOffset(b, super)*g.Scale
					v += l.Brightness(x, y)
				}
			}
			out[r*g.N+c] = v * w
		}
	}
	return out
}

// subOffset is the offset of sub-pixel k of s, in pixel units.
func subOffset(k, s int) float64 {
	return (float64(k)+0.5)/float64(s) - 0.5
}

// PixelSource is a pixelated source on Grid, sampled by bilinear
// interpolation between pixel centres. Outside the grid the source is zero
// padded: a point between the outermost centre and one pixel beyond it
// interpolates linearly towards a zero-valued ghost pixel, and beyond that
// the brightness is exactly 0.
type PixelSource struct {
	Grid
	Data []float64 // row-major, len N²
}

// Brightness returns the bilinearly interpolated value at (x, y).
func (p PixelSource) Brightness(x, y float64) float64 {
	var idx [4]int32
	var w [4]float64
	n := bilinear(p.Grid, x, y, &idx, &w)
	var v float64
	for k := 0; k < n; k++ {
		v += w[k] * p.Data[idx[k]]
	}
	return v
}

// bilinear writes the (at most four) source pixel indices and weights that
// interpolate grid g at (x, y), dropping ghost pixels outside the grid, and
// returns how many it wrote.
func bilinear(g Grid, x, y float64, idx *[4]int32, w *[4]float64) int {
	h := 0.5 * float64(g.N-1)
	u := x/g.Scale + h
	v := y/g.Scale + h
	if !(u > -1 && u < float64(g.N) && v > -1 && v < float64(g.N)) {
		return 0
	}
	fu, fv := math.Floor(u), math.Floor(v)
	i0, j0 := int(fu), int(fv) // column, row
	tu, tv := u-fu, v-fv
	n := 0
	for dj := 0; dj < 2; dj++ {
		row := j0 + dj
		if row < 0 || row >= g.N {
			continue
		}
		wv := 1 - tv
		if dj == 1 {
			wv = tv
		}
		for di := 0; di < 2; di++ {
			col := i0 + di
			if col < 0 || col >= g.N {
				continue
			}
			wu := 1 - tu
			if di == 1 {
				wu = tu
			}
			if ww := wu * wv; ww != 0 {
				idx[n] = int32(row*g.N + col)
				w[n] = ww
				n++
			}
		}
	}
	return n
}

// ObserveLight returns the noise-free observation of an analytic source
// light l seen through mass on the grid cfg.Obs: l is evaluated at the
// ray-traced positions β = θ − α(θ) of the Supersample×Supersample
// sub-pixel centres of every pixel (Render's offsets), averaged per pixel,
// and convolved with cfg.PSF under the operator's zero padding. Unlike
// Operator.Apply of a rendered source, the profile is never pixelised on
// the source grid, so a cuspy profile keeps its peak; this is how
// lenstronomy images analytic sources. cfg.Src is not used.
func ObserveLight(mass Mass, l Light, cfg Config) ([]float64, error) {
	if mass == nil || l == nil {
		return nil, fmt.Errorf("lens: observe light: nil mass model or light profile")
	}
	if err := cfg.Obs.validate("observation"); err != nil {
		return nil, err
	}
	if cfg.Supersample < 0 {
		return nil, fmt.Errorf("lens: supersample must be >= 0, got %d", cfg.Supersample)
	}
	img := Render(lensedLight{mass, l}, cfg.Obs, cfg.supersample())
	for i, v := range img {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("lens: observe light: pixel %d (row %d, col %d) is %g", i, i/cfg.Obs.N, i%cfg.Obs.N, v)
		}
	}
	if cfg.PSF == nil {
		return img, nil
	}
	out := make([]float64, len(img))
	cfg.PSF.Convolve(out, img, cfg.Obs.N)
	return out, nil
}
