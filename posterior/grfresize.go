package posterior

import (
	"errors"
	"fmt"
	"math"
)

// Resampled returns the field g describes on an m×m grid covering the same
// field of view (pixels (n/m)× the size): the same mean, and a spectrum that
// has the same physical power at every frequency. g must be square (n×n).
//
// A stationary field with covariance function C(r) sampled at pixel size
// Δ has eigenvalues P(k) = Σ_d C(dΔ) e^{−2πi k·d/n} ≈ Ĉ(k/L)/Δ² for the
// frequencies it resolves (L = nΔ the field of view), so at index k, the
// same physical frequency k/L on both grids,
//
//	P_m(k) = (m/n)² P_n(k)    for |k_x|, |k_y| ≤ n/2.
//
// Frequencies above the n-grid's Nyquist limit (when m > n) follow a power
// law A|k|^β fitted by least squares to log P_n against log|k| of the
// annular means over n/8 ≤ |k| ≤ n/2 (β capped at 0), floored at the
// smallest value of the scaled spectrum. This is how a Gaussian proxy or
// prior fitted at 64² serves a 128² or 256² source of the same field; the
// extrapolated tail is a model, not a measurement.
func (g *GRF) Resampled(m int, sigma func(float64) float64) (*GRF, error) {
	n := g.nx
	if g.ny != n {
		return nil, fmt.Errorf("posterior: GRF resample: grid %d×%d is not square", g.nx, g.ny)
	}
	if m < 2 {
		return nil, fmt.Errorf("posterior: GRF resample: target grid side %d < 2", m)
	}
	if sigma == nil {
		return nil, errors.New("posterior: GRF resample: nil noise schedule")
	}
	signed := func(k, size int) int {
		if k > size/2 {
			return k - size
		}
		return k
	}
	scale := float64(m) * float64(m) / (float64(n) * float64(n))
	// Annular means of the n spectrum at integer |k| for the tail fit.
	sum := make([]float64, n)
	cnt := make([]int, n)
	minP := math.Inf(1)
	for ky := range n {
		for kx := range n {
			v := g.p[ky*n+kx]
			minP = math.Min(minP, v)
			r := int(math.Round(math.Hypot(float64(signed(kx, n)), float64(signed(ky, n)))))
			if r < n {
				sum[r] += v
				cnt[r]++
			}
		}
	}
	var sx, sy, sxx, sxy, w float64
	for r := max(1, n/8); r <= n/2; r++ {
		if cnt[r] == 0 {
			continue
		}
		x, y := math.Log(float64(r)), math.Log(sum[r]/float64(cnt[r]))
		sx, sy, sxx, sxy, w = sx+x, sy+y, sxx+x*x, sxy+x*y, w+1
	}
	beta, logA := 0.0, 0.0
	if d := w*sxx - sx*sx; w >= 2 && d > 0 {
		beta = math.Min(0, (w*sxy-sx*sy)/d)
		logA = (sy - beta*sx) / w
	} else if w > 0 {
		logA = sy / w
	}
	p := make([]float64, m*m)
	for ky := range m {
		for kx := range m {
			fx, fy := signed(kx, m), signed(ky, m)
			var v float64
			if 2*abs(fx) <= n && 2*abs(fy) <= n {
				v = g.p[((fy+n)%n)*n+(fx+n)%n]
			} else {
				v = math.Max(math.Exp(logA+beta*math.Log(math.Hypot(float64(fx), float64(fy)))), minP)
			}
			p[ky*m+kx] = scale * v
		}
	}
	return NewGRF(m, m, g.mu, p, sigma)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
