package lens

import (
	"math"
	"math/rand/v2"
	"testing"
)

// paperConfig is the geometry of Adam et al. (2022) as lenscore's demo
// scales it: a 256×256 source of 0.0075″ pixels (1.92″ field) seen in a
// 128×128 observation of 5/128″ pixels, rays traced on a 2×2 sub-grid of
// each observed pixel (256×256 rays, averaged in 2×2 blocks).
func paperConfig(t *testing.T, withPSF bool) Config {
	cfg := Config{Obs: Grid{128, 5.0 / 128}, Src: Grid{256, 1.92 / 256}, Supersample: 2}
	if withPSF {
		p, err := GaussianPSF(0.12, cfg.Obs.Scale, 0)
		if err != nil {
			t.Fatal(err)
		}
		cfg.PSF = p
	}
	return cfg
}

// At the paper's 256² → 128² geometry the operator's adjoint is its
// transpose (dot-product test and explicit entries), and without a PSF
// A x is the mean over the 2×2 rays of each observed pixel of the
// bilinearly interpolated source at β = θ − α(θ), computed here directly.
func TestPaperGeometry256To128(t *testing.T) {
	rng := rand.New(rand.NewPCG(256, 128))
	for _, psf := range []bool{false, true} {
		cfg := paperConfig(t, psf)
		op, err := NewOperator(testLens(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		m, n := op.Dims()
		if m != 128*128 || n != 256*256 {
			t.Fatalf("psf %v: Dims = %d, %d, want %d, %d", psf, m, n, 128*128, 256*256)
		}
		ax, atr := make([]float64, m), make([]float64, n)
		for trial := 0; trial < 2; trial++ {
			x, r := randVec(rng, n), randVec(rng, m)
			op.Apply(ax, x)
			op.Adjoint(atr, r)
			if l, rr := dot(ax, r), dot(x, atr); relErr(l, rr) > 1e-10 {
				t.Fatalf("psf %v: <Ax,r> = %.15g, <x,Aᵀr> = %.15g", psf, l, rr)
			}
		}
		r := randVec(rng, m)
		op.Adjoint(atr, r)
		// Columns of source pixels near the Einstein ring, where A is
		// non-zero, and a few anywhere.
		cols := []int{}
		for k := 0; k < 4; k++ {
			cols = append(cols, rng.IntN(n))
		}
		for j := range n {
			if len(cols) >= 12 {
				break
			}
			if atr[j] != 0 && rng.IntN(200) == 0 {
				cols = append(cols, j)
			}
		}
		nonzero := 0
		for _, j := range cols {
			var s float64
			for i := 0; i < m; i++ {
				s += op.At(i, j) * r[i]
			}
			if s != 0 {
				nonzero++
			}
			if math.Abs(s-atr[j]) > 1e-12*(1+math.Abs(s)) {
				t.Fatalf("psf %v: (Aᵀr)[%d] = %g, from explicit entries %g", psf, j, atr[j], s)
			}
		}
		if nonzero < 6 {
			t.Fatalf("psf %v: only %d of %d checked columns are non-zero", psf, nonzero, len(cols))
		}
		if psf {
			continue
		}
		x := randVec(rng, n)
		op.Apply(ax, x)
		src := PixelSource{Grid: cfg.Src, Data: x}
		mass := testLens()
		for trial := 0; trial < 200; trial++ {
			row, col := rng.IntN(128), rng.IntN(128)
			var want float64
			for a := range 2 {
				for b := range 2 {
					tx := cfg.Obs.Coord(col) + (float64(b)+0.5)/2*cfg.Obs.Scale - 0.5*cfg.Obs.Scale
					ty := cfg.Obs.Coord(row) + (float64(a)+0.5)/2*cfg.Obs.Scale - 0.5*cfg.Obs.Scale
					dx, dy := mass.Deflection(tx, ty)
					want += src.Brightness(tx-dx, ty-dy) / 4
				}
			}
			if got := ax[row*128+col]; math.Abs(got-want) > 1e-12*(1+math.Abs(want)) {
				t.Fatalf("(A x)[%d,%d] = %.15g, 2×2 rays traced directly give %.15g", row, col, got, want)
			}
		}
	}
}
