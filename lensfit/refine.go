package lensfit

import (
	"context"
	"math"
	"slices"

	"github.com/lenscore/lenscore/mcmc"
	"gonum.org/v1/gonum/mat"
)

// Refinement settings, lengths in units of the coarse posterior's
// standard deviations: the probe step of the central differences, the
// largest step, the curvature clip, the iteration cap and the step below
// which the refinement has converged.
const (
	refineProbe    = 0.5
	refineMaxStep  = 30.0 // the first trust radius; tripled after a full capped step
	refineForward  = 3.0  // steps longer than this are followed by forward differences
	refineCurvMin  = 0.1
	refineCurvMax  = 10.0
	refineMaxIter  = 40
	refineStepConv = 0.1
	refineFTol     = 0.02 // … or the log posterior rose by less
)

// refine maximises the full objective o from x0, the best mode of the
// coarse objective co, by BFGS in coordinates whitened by the coarse
// Laplace covariance: with −∇²log p_co(x0) = H = LLᵀ (central differences
// on co, cheap), x = x0 + L⁻ᵀz makes the fine posterior roughly
// N(z*, I) — roughly, because at a high signal-to-noise ratio the coarse
// optimum can be tens of standard deviations from the fine one and the
// curvatures differ by factors of a few. The gradient comes from central
// differences at z ± ½e_i (2d evaluations, which also give the diagonal
// curvature c that, clipped to [0.1, 10], starts the inverse Hessian), or
// forward differences (d evaluations) after a step longer than 3; each
// step is halved until the posterior rises (Armijo; the trust radius
// starts at 30 and triples after every full step it capped), and the refinement has converged when an accepted
// step is shorter than 0.1 or raised log p by less than 0.02. The best point evaluated is returned. If H is not
// positive definite it falls back to Nelder–Mead (maximiseTwice with
// edges 0.3·steps).
func refine(ctx context.Context, o, co *Objective, x0, steps []float64, maxEval int, tick func()) (*mcmc.MaximiseResult, error) {
	d := len(x0)
	hess, _, ok := negHessian(context.Background(), co, x0, steps, true)
	var chol mat.Cholesky
	if ok {
		ok = chol.Factorize(hess)
	}
	var l, linv mat.TriDense
	if ok {
		chol.LTo(&l)
		ok = linv.InverseTri(&l) == nil
	}
	if !ok {
		return maximiseTwice(ctx, o, x0, steps, 0.3, 1e-2, 1e-3, maxEval, tick)
	}
	evals := 0
	xz := func(z []float64) []float64 {
		x := slices.Clone(x0)
		for i := 0; i < d; i++ {
			for k := i; k < d; k++ { // (L⁻ᵀ)_ik = (L⁻¹)_ki
				x[i] += linv.At(k, i) * z[k]
			}
		}
		return x
	}
	var bestZ []float64
	bestF := math.Inf(-1)
	f := func(z []float64) float64 {
		if ctx.Err() != nil {
			return math.Inf(-1)
		}
		evals++
		v := o.LogPost(xz(z))
		tick()
		if math.IsNaN(v) {
			v = math.Inf(-1)
		}
		if v > bestF {
			bestZ, bestF = slices.Clone(z), v
		}
		return v
	}
	// grad sets g (∇ log p) and c (−∂²log p on the diagonal) at z by
	// central differences, or g alone by forward differences (d
	// evaluations instead of 2d; c is left unchanged).
	trial := make([]float64, d)
	grad := func(z []float64, f0 float64, g, c []float64, central bool) {
		h := refineProbe
		for i := 0; i < d; i++ {
			copy(trial, z)
			trial[i] = z[i] + h
			fp := f(trial)
			if !central {
				g[i] = 0
				if !math.IsInf(fp, -1) {
					g[i] = (fp - f0) / h
				}
				continue
			}
			trial[i] = z[i] - h
			fm := f(trial)
			if math.IsInf(fp, -1) || math.IsInf(fm, -1) { // at the prior's edge: no step along i
				g[i], c[i] = 0, 1
				continue
			}
			g[i] = (fp - fm) / (2 * h)
			c[i] = (2*f0 - fp - fm) / (h * h)
		}
	}
	z := make([]float64, d)
	f0 := f(z)
	if math.IsInf(f0, -1) {
		return maximiseTwice(ctx, o, x0, steps, 0.3, 1e-2, 1e-3, maxEval, tick)
	}
	g, c := make([]float64, d), make([]float64, d)
	gn, cn := make([]float64, d), make([]float64, d)
	grad(z, f0, g, c, true)
	hinv := mat.NewSymDense(d, nil) // ≈ (−∇² log p)⁻¹
	reset := func() {
		hinv.Zero()
		for i := 0; i < d; i++ {
			hinv.SetSym(i, i, 1/math.Min(math.Max(c[i], refineCurvMin), refineCurvMax))
		}
	}
	reset()
	p, zn, s, y := make([]float64, d), make([]float64, d), make([]float64, d), make([]float64, d)
	conv := false
	radius := refineMaxStep
	for it := 0; it < refineMaxIter && evals+2*d+8 <= maxEval && ctx.Err() == nil; it++ {
		capped := false
		dir := func() float64 {
			var gp, norm float64
			for i := 0; i < d; i++ {
				p[i] = 0
				for k := 0; k < d; k++ {
					p[i] += hinv.At(i, k) * g[k]
				}
				gp += g[i] * p[i]
				norm += p[i] * p[i]
			}
			capped = false
			if norm = math.Sqrt(norm); norm > radius {
				for i := range p {
					p[i] *= radius / norm
				}
				gp *= radius / norm
				capped = true
			}
			return gp
		}
		gp := dir()
		if !(gp > 0) { // not an ascent direction: back to the diagonal
			reset()
			if gp = dir(); !(gp > 0) {
				conv = true
				break
			}
		}
		t, fn := 1.0, math.Inf(-1)
		for try := 0; try < 8; try++ {
			for i := range zn {
				zn[i] = z[i] + t*p[i]
			}
			if fn = f(zn); fn > f0+1e-4*t*gp {
				break
			}
			t /= 2
		}
		if !(fn > f0) {
			conv = true // no rise along the direction at the probe's resolution
			break
		}
		var step float64
		for i := range s {
			s[i] = zn[i] - z[i]
			step += s[i] * s[i]
		}
		if math.Sqrt(step) < refineStepConv || fn-f0 < refineFTol {
			if fn > f0 {
				copy(z, zn)
				f0 = fn
			}
			conv = true
			break
		}
		if capped && t == 1 {
			radius *= 3
		}
		// Far from the maximum (a long step) the forward-difference error
		// (≈ ½ in these units) is negligible against the gradient.
		copy(cn, c)
		grad(zn, fn, gn, cn, math.Sqrt(step) < refineForward)
		var sy float64
		for i := range y {
			y[i] = -(gn[i] - g[i]) // change of ∇(−log p)
			sy += s[i] * y[i]
		}
		if sy > 0 { // BFGS: H⁻¹ ← (I − ρsyᵀ) H⁻¹ (I − ρysᵀ) + ρssᵀ
			rho := 1 / sy
			hy := make([]float64, d)
			var yhy float64
			for i := 0; i < d; i++ {
				for k := 0; k < d; k++ {
					hy[i] += hinv.At(i, k) * y[k]
				}
				yhy += y[i] * hy[i]
			}
			for i := 0; i < d; i++ {
				for k := 0; k <= i; k++ {
					v := hinv.At(i, k) - rho*(hy[i]*s[k]+s[i]*hy[k]) + (rho*rho*yhy+rho)*s[i]*s[k]
					hinv.SetSym(i, k, v)
				}
			}
		} else {
			copy(c, cn)
			reset()
		}
		copy(z, zn)
		copy(g, gn)
		f0 = fn
	}
	return &mcmc.MaximiseResult{X: xz(bestZ), F: bestF, Evals: evals, Conv: conv}, nil
}

// negHessian returns −∇²log p of o at x by central differences: first the
// curvature scale σ_k = h/sqrt(2f(x) − f(x+h) − f(x−h)) of each axis
// (h = step/5, σ_k capped at the step), returned as sd, then the full
// matrix with steps σ_k (4 evaluations per pair); finite is false if an
// evaluation was not finite. With stopNonFinite the rows after the first
// non-finite evaluation are left out (the caller does not use the matrix
// then). Once ctx is cancelled the remaining evaluations are skipped (they
// read NaN); the caller checks ctx. Cost 1 + 4d + 4d(d−1)/2 evaluations.
func negHessian(ctx context.Context, o *Objective, x, steps []float64, stopNonFinite bool) (hess *mat.SymDense, sd []float64, finite bool) {
	d := len(x)
	f0 := o.LogPost(x)
	finite = !math.IsInf(f0, 0) && !math.IsNaN(f0)
	at := func(i int, hi float64, j int, hj float64) float64 {
		if ctx.Err() != nil {
			return math.NaN()
		}
		y := slices.Clone(x)
		y[i] += hi
		if j >= 0 {
			y[j] += hj
		}
		v := o.LogPost(y)
		if math.IsInf(v, 0) || math.IsNaN(v) {
			finite = false
		}
		return v
	}
	sd = make([]float64, d)
	for k := range x {
		h := steps[k] / 5
		c := 2*f0 - at(k, h, -1, 0) - at(k, -h, -1, 0)
		sd[k] = steps[k]
		if c > 0 && !math.IsInf(c, 0) {
			sd[k] = math.Min(h/math.Sqrt(c), steps[k])
		}
	}
	hess = mat.NewSymDense(d, nil)
	for k := 0; k < d && (finite || !stopNonFinite); k++ {
		h := sd[k]
		hess.SetSym(k, k, (2*f0-at(k, h, -1, 0)-at(k, -h, -1, 0))/(h*h))
		for l := 0; l < k; l++ {
			hl := sd[l]
			v := -(at(k, h, l, hl) - at(k, h, l, -hl) - at(k, -h, l, hl) + at(k, -h, l, -hl)) / (4 * h * hl)
			hess.SetSym(k, l, v)
		}
	}
	return hess, sd, finite
}
