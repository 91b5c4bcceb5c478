package lensfit

import (
	"context"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/posterior"
)

// Shape is a one-parameter family of GRF source priors built from a base
// GRF (TiltedGRF, WhiteMixGRF): the hyperparameter v of OptimiseHyper.
type Shape func(g *posterior.GRF, v float64) (*posterior.GRF, error)

// TiltedGRF returns the GRF with the spectrum of g tilted by the power β of
// the wavenumber,
//
//	P_β(k) = P(k) · (k̃ / k_ref)^β,  k̃ = √(k_x² + k_y² + 1),
//
// with k in cycles per grid side (DFT index k or k − n, whichever is
// smaller in magnitude) and k_ref = n/4 (a quarter of the grid side; for a
// non-square grid the geometric mean of the sides). β > 0 puts more power
// into small scales (a rougher source), β < 0 less (a smoother one); at
// k ≈ k_ref the power is unchanged, so the amplitude a of the evidence and β
// are nearly independent. β = 0 returns an equal copy.
func TiltedGRF(g *posterior.GRF, beta float64) (*posterior.GRF, error) {
	if math.IsNaN(beta) || math.IsInf(beta, 0) {
		return nil, fmt.Errorf("lensfit: tilted GRF: tilt %g is not finite", beta)
	}
	nx, ny := g.Grid()
	p := g.Spectrum()
	q := make([]float64, len(p))
	kref := math.Sqrt(float64(nx)*float64(ny)) / 4
	for ky := 0; ky < ny; ky++ {
		fy := float64(min(ky, ny-ky))
		for kx := 0; kx < nx; kx++ {
			fx := float64(min(kx, nx-kx))
			k := math.Sqrt(fx*fx + fy*fy + 1)
			q[ky*nx+kx] = p[ky*nx+kx] * math.Pow(k/kref, beta)
		}
	}
	return posterior.NewGRF(nx, ny, g.Mean()[0], q, unitSchedule)
}

// WhiteMixGRF returns the GRF of g plus independent white noise of
// variance 10^w times the field's pixel variance c(0) = mean_k P(k):
// P_w(k) = P(k) + 10^w · c(0), a "nugget" that lets the source have more
// small-scale structure than the fitted spectrum allows. w → −∞ gives g,
// w → +∞ an isotropic Gaussian (up to the amplitude).
func WhiteMixGRF(g *posterior.GRF, w float64) (*posterior.GRF, error) {
	if math.IsNaN(w) || math.IsInf(w, 0) {
		return nil, fmt.Errorf("lensfit: white-mixed GRF: log10 fraction %g is not finite", w)
	}
	nx, ny := g.Grid()
	p := g.Spectrum()
	var c0 float64
	for _, v := range p {
		c0 += v
	}
	add := math.Pow(10, w) * c0 / float64(len(p))
	q := make([]float64, len(p))
	for i, v := range p {
		q[i] = v + add
	}
	return posterior.NewGRF(nx, ny, g.Mean()[0], q, unitSchedule)
}

// HyperResult is the type-II maximum likelihood of the source prior's
// hyperparameters at one lens (OptimiseHyper).
type HyperResult struct {
	Log10Scale  float64 `json:"log10_source_scale"`
	Shape       float64 `json:"shape_parameter"` // v of the Shape family (0 without one)
	LogEvidence float64 `json:"log_evidence"`
	Evaluations int     `json:"evaluations"`
}

// OptimiseHyper maximises the log evidence at the lens p over the prior's
// amplitude log10 a ∈ [−3, 3] and, when base is a GRF and shape is not nil,
// the shape parameter v ∈ [lo, hi] of the prior shape(base, v) (TiltedGRF,
// WhiteMixGRF): golden-section search in v, each trial maximised over
// log10 a by golden section (the
// evidence is unimodal in log10 a for a fixed prior shape: it is
// log N(r | 0, N + a²AΣ₀Aᵀ)). The evidence is left at the optimum's prior
// (ev.SetPrior), ready for a lens fit with that shape fixed. This is what
// pixelated-source codes call setting the regularisation by the evidence.
func OptimiseHyper(ctx context.Context, ev *Evidence, base posterior.GaussianPrior, p lens.Params, extra []Component, shape Shape, lo, hi float64) (HyperResult, error) {
	var res HyperResult
	fitTilt := shape != nil
	g, isGRF := base.(*posterior.GRF)
	if fitTilt && !isGRF {
		return res, fmt.Errorf("lensfit: hyperparameters: a prior shape needs a GRF prior, not %T", base)
	}
	if fitTilt && !(lo < hi) {
		return res, fmt.Errorf("lensfit: hyperparameters: shape bounds [%g, %g] are empty", lo, hi)
	}
	var firstErr error
	scaleAt := func() (float64, float64) {
		f := func(s float64) float64 {
			if ctx.Err() != nil {
				return math.Inf(-1)
			}
			res.Evaluations++
			v, err := ev.LogEvidence(p.Mass(), s*math.Ln10, extra)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return math.Inf(-1)
			}
			return v
		}
		s := GoldenMax(f, -3, 3, 1e-3)
		return s, f(s)
	}
	setTilt := func(beta float64) error {
		if !fitTilt {
			return ev.SetPrior(base)
		}
		t, err := shape(g, beta)
		if err != nil {
			return err
		}
		return ev.SetPrior(t)
	}
	if !fitTilt {
		if err := setTilt(0); err != nil {
			return res, err
		}
		res.Log10Scale, res.LogEvidence = scaleAt()
		if err := ctx.Err(); err != nil {
			return res, err
		}
		return res, firstErr
	}
	at := func(beta float64) float64 {
		if ctx.Err() != nil || firstErr != nil {
			return math.Inf(-1)
		}
		if err := setTilt(beta); err != nil {
			firstErr = err
			return math.Inf(-1)
		}
		_, v := scaleAt()
		return v
	}
	beta := GoldenMax(at, lo, hi, 0.01)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if firstErr != nil {
		return res, firstErr
	}
	if err := setTilt(beta); err != nil {
		return res, err
	}
	res.Shape = beta
	res.Log10Scale, res.LogEvidence = scaleAt()
	return res, firstErr
}

// GoldenMax returns the maximiser of a unimodal f on [a, b] to tol by
// golden-section search (the evidence's one-dimensional maximisations: the
// source amplitude, a prior-shape parameter).
func GoldenMax(f func(float64) float64, a, b, tol float64) float64 {
	r := (math.Sqrt(5) - 1) / 2
	c, d := b-r*(b-a), a+r*(b-a)
	fc, fd := f(c), f(d)
	for b-a > tol {
		if fc > fd {
			b, d, fd = d, c, fc
			c = b - r*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + r*(b-a)
			fd = f(d)
		}
	}
	return (a + b) / 2
}
