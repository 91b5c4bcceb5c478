package lensfit

import (
	"fmt"
	"math"

	"github.com/lenscore/lenscore/posterior"
)

// smoothFloor is the white floor of SmoothGRF's spectrum relative to its
// largest value: it keeps the prior precision 1/P(k) finite (≤ 10⁶ times
// its smallest value) for the source route.
const smoothFloor = 1e-6

// SmoothGRF returns the zero-mean Gaussian random field on an n×n source
// grid with unit pixel variance and a Gaussian correlation of ell pixels,
//
//	P(k) ∝ exp(−2π²ℓ²(k_x² + k_y²)/n²) + 10⁻⁶ max P,   mean P = 1,
//
// k in DFT index order folded to |k| ≤ n/2, i.e. the covariance
// exp(−r²/(2ℓ²)) between pixels r apart (periodic on the grid, as every
// GRF here is). Used as the lens fit's source prior (with its amplitude a
// fitted) instead of the isotropic Gaussian N(0, a²I): under a white prior
// the variance of a bilinearly interpolated ray depends on where it lands
// within a source pixel (Σw² is 1 at a pixel centre and ¼ midway), so the
// evidence ripples as the lens moves the rays across the grid; correlated
// neighbours make that variance nearly independent of the position
// (docs/lens-fitting.md, "Ripples of the evidence"). On SLACS J2303+1422
// ℓ = 2 halves the ripples but moves the lens posterior (q 0.55 → 0.42,
// the centre by 0.1″) and its chains do not mix in the default budget, so
// no command uses it by default.
func SmoothGRF(n int, ell float64) (*posterior.GRF, error) {
	if n < 2 {
		return nil, fmt.Errorf("lensfit: smooth prior: grid side %d, want ≥ 2", n)
	}
	if !(ell > 0) || math.IsInf(ell, 0) {
		return nil, fmt.Errorf("lensfit: smooth prior: correlation length %g pixels, want > 0", ell)
	}
	p := make([]float64, n*n)
	fold := func(k int) float64 { return float64(min(k, n-k)) }
	var mx float64
	for ky := 0; ky < n; ky++ {
		for kx := 0; kx < n; kx++ {
			fx, fy := fold(kx), fold(ky)
			v := math.Exp(-2 * math.Pi * math.Pi * ell * ell * (fx*fx + fy*fy) / float64(n*n))
			p[ky*n+kx] = v
			mx = math.Max(mx, v)
		}
	}
	var mean float64
	for i := range p {
		p[i] += smoothFloor * mx
		mean += p[i]
	}
	mean /= float64(len(p))
	for i := range p {
		p[i] /= mean
	}
	return posterior.NewGRF(n, n, 0, p, func(float64) float64 { return 0 })
}
