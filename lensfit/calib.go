package lensfit

import (
	"context"
	"errors"
	"math"

	"gonum.org/v1/gonum/mat"
)

// LocalFit is the maximum of the posterior near a given point and the
// Laplace approximation N(MAP, (−∇²log p)⁻¹) there (FitNear).
type LocalFit struct {
	MAP         []float64   // free parameters (Objective order)
	LogPost     float64     // log posterior at MAP
	Cov         [][]float64 // Laplace covariance (nil if the Hessian is not negative definite)
	SD          []float64   // √diag Cov, or the curvature scales when Cov is nil
	Evaluations int
}

// FitNear maximises o from x0 — a start already in the right mode, such as
// the true lens of a simulation — by the whitened BFGS of the refinement
// (whitened by the Laplace approximation at x0 itself) and returns the
// maximum with its Laplace approximation: 2(1 + 4d + 2d(d−1)) + ≈ 10–20·d
// evaluations in d parameters, a small fraction of Fit's. It is the cheap
// measurement of calibration that `experiment lens-recovery --probe` uses:
// where the posterior is close to Gaussian (as the converged chains of Fit
// show for well-measured lenses) the Laplace z-scores and intervals are those
// of the chains. It does not search for other modes.
func FitNear(ctx context.Context, o *Objective, x0 []float64) (*LocalFit, error) {
	if len(x0) != o.Dim() {
		return nil, errors.New("lensfit: fit near: the start has the wrong number of parameters")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e0 := o.Evals
	if f := o.LogPost(x0); math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, errors.New("lensfit: fit near: the start is outside the prior or its evidence is not finite")
	}
	steps := o.Steps()
	r, err := refine(ctx, o, o, x0, steps, 150*len(x0), func() {})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hess, sd, _ := negHessian(ctx, o, r.X, steps, false)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lf := &LocalFit{MAP: r.X, LogPost: r.F, SD: sd}
	var chol mat.Cholesky
	if chol.Factorize(hess) {
		var cov mat.SymDense
		if err := chol.InverseTo(&cov); err == nil {
			d := len(x0)
			lf.Cov, lf.SD = make([][]float64, d), make([]float64, d)
			for i := 0; i < d; i++ {
				lf.Cov[i] = make([]float64, d)
				for j := 0; j < d; j++ {
					lf.Cov[i][j] = cov.At(i, j)
				}
				lf.SD[i] = math.Sqrt(cov.At(i, i))
			}
		}
	}
	lf.Evaluations = o.Evals - e0
	return lf, nil
}

// MaximiseNear is FitNear without the Laplace approximation at the end:
// the maximum of o from x0 (free parameters, Objective order), its log
// posterior and the evaluations spent. It is the refit of a lens that is
// already close to the answer, such as a re-analysis of a slightly changed
// observation.
func MaximiseNear(ctx context.Context, o *Objective, x0 []float64) (x []float64, logPost float64, evals int, err error) {
	if len(x0) != o.Dim() {
		return nil, 0, 0, errors.New("lensfit: maximise near: the start has the wrong number of parameters")
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}
	e0 := o.Evals
	if f := o.LogPost(x0); math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, 0, 0, errors.New("lensfit: maximise near: the start is outside the prior or its evidence is not finite")
	}
	r, err := refine(ctx, o, o, x0, o.Steps(), 150*len(x0), func() {})
	if err != nil {
		return nil, 0, 0, err
	}
	return r.X, r.F, o.Evals - e0, ctx.Err()
}
