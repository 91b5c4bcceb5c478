package train

import (
	"fmt"
	"math"
	"strings"
)

// MetaAugment is the model metadata key describing the training
// augmentations (Config.AugmentDescription).
const MetaAugment = "augment"

// AugmentDescription describes the augmentations of c, e.g. "dihedral,
// shift 1.5 px, scale 0.1" ("none" without any).
func (c Config) AugmentDescription() string {
	var parts []string
	if c.Augment {
		parts = append(parts, "dihedral")
	}
	if c.Shift > 0 {
		parts = append(parts, fmt.Sprintf("shift %g px", c.Shift))
	}
	if c.Scale > 0 {
		parts = append(parts, fmt.Sprintf("scale %g", c.Scale))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// MaxScale bounds Config.Scale: magnifications stay within [1/(1+MaxScale),
// 1+MaxScale] = [0.5, 2], so an output pixel's preimage spans at most
// three input pixels per axis.
const MaxScale = 1.0

// affineTaps bounds the input pixels per axis that one output pixel of
// Affine reads (a preimage of length 1/a ≤ 2 touches at most 3).
const affineTaps = 4

// Affine resamples n×n images under a magnification a about the image
// centre followed by a shift (dx, dy) pixels, conserving flux. Its buffers
// are allocated once, so Apply does not allocate.
//
// Pixel j of an axis covers [j, j+1] and the centre is c = n/2. The output
// is the exact integral, over each output pixel, of the continuous image
// x′(u) = x((u − c − d)/a + c) / a² built from the piecewise-constant
// input x:
//
//	dst[o] = Σ_i w_o,i^x w_o,i^y src[i],  w_o,i = |[i, i+1] ∩ [(o−c−d)/a + c, (o+1−c−d)/a + c]|
//
// (per axis). The preimages of the output pixels tile the input, so the
// total flux Σ dst equals Σ src for a source away from the edges, for every
// a and shift; the surface brightness, and so the peak, scale by about
// 1/a². With a = 1 and integer shifts it is an exact pixel shift; a = 1
// and d = 0 is the identity. Input pixels outside the frame are taken from
// the mirror image of the frame (index −1 is 0, n is n−1), so a sky with
// noise stays a sky with noise. On a noisy sky, a non-integer shift or a
// magnification averages neighbouring pixels: the white noise of a kept
// sky becomes slightly correlated, and relative to the peak its level
// changes by about a factor a (for a < 1 each output pixel sums 1/a² input
// pixels).
type Affine struct {
	n          int
	idx        [2][]int32 // [axis][o*affineTaps+k]: input index of tap k
	w          [2][]float64
	cnt        [2][]int8
	tmp        []float64
	scale      float64
	dx, dy     float64
	configured bool
}

// NewAffine returns a resampler for n×n images.
func NewAffine(n int) *Affine {
	a := &Affine{n: n, tmp: make([]float64, n*n)}
	for ax := range 2 {
		a.idx[ax] = make([]int32, n*affineTaps)
		a.w[ax] = make([]float64, n*affineTaps)
		a.cnt[ax] = make([]int8, n)
	}
	return a
}

// Set selects the magnification scale ∈ [1/(1+MaxScale), 1+MaxScale] and
// the shift in pixels (x is the column, y the row).
func (a *Affine) Set(scale, dx, dy float64) error {
	if !(scale >= 1/(1+MaxScale)-1e-12 && scale <= 1+MaxScale+1e-12) {
		return fmt.Errorf("train: magnification %g outside [%g, %g]", scale, 1/(1+MaxScale), 1+MaxScale)
	}
	if math.IsNaN(dx) || math.IsNaN(dy) || math.Abs(dx) > float64(a.n) || math.Abs(dy) > float64(a.n) {
		return fmt.Errorf("train: shift (%g, %g) pixels outside the %d-pixel frame", dx, dy, a.n)
	}
	a.scale, a.dx, a.dy = scale, dx, dy
	a.axis(0, dx)
	a.axis(1, dy)
	a.configured = true
	return nil
}

// mirror maps an index outside [0, n) into it by reflection about the
// frame's edges.
func mirror(i, n int) int {
	for i < 0 || i >= n {
		if i < 0 {
			i = -1 - i
		}
		if i >= n {
			i = 2*n - 1 - i
		}
	}
	return i
}

// axis fills the tap lists of one axis for shift d.
func (a *Affine) axis(ax int, d float64) {
	n, s := a.n, a.scale
	c := float64(n) / 2
	for o := range n {
		lo := (float64(o)-c-d)/s + c
		hi := (float64(o+1)-c-d)/s + c
		k := 0
		for i := int(math.Floor(lo)); float64(i) < hi && k < affineTaps; i++ {
			ov := math.Min(hi, float64(i+1)) - math.Max(lo, float64(i))
			if ov <= 0 {
				continue
			}
			a.idx[ax][o*affineTaps+k] = int32(mirror(i, n))
			a.w[ax][o*affineTaps+k] = ov
			k++
		}
		a.cnt[ax][o] = int8(k)
	}
}

// Apply writes the transformed src into dst (both n×n, row-major, row 0
// at the bottom; they may not alias). Set must have been called.
func (a *Affine) Apply(dst, src []float32) {
	if !a.configured {
		panic("train: Affine.Apply before Set")
	}
	n := a.n
	// Columns first: tmp[y][o] = Σ_i w^x_o,i src[y][i].
	for y := range n {
		row := src[y*n : (y+1)*n]
		for o := range n {
			s := 0.0
			base := o * affineTaps
			for k := range int(a.cnt[0][o]) {
				s += a.w[0][base+k] * float64(row[a.idx[0][base+k]])
			}
			a.tmp[y*n+o] = s
		}
	}
	// Then rows: dst[o][x] = Σ_i w^y_o,i tmp[i][x].
	for o := range n {
		out := dst[o*n : (o+1)*n]
		base := o * affineTaps
		cnt := int(a.cnt[1][o])
		for x := range n {
			s := 0.0
			for k := range cnt {
				s += a.w[1][base+k] * a.tmp[int(a.idx[1][base+k])*n+x]
			}
			out[x] = float32(s)
		}
	}
}
