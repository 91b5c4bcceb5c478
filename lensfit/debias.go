package lensfit

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/lenscore/lenscore/lens"
)

// SourceOffsets estimates the offset that the Gaussian source prior itself
// puts on the lens: the evidence of a real galaxy under a stationary
// Gaussian prior peaks at a lens that makes the source look most like a
// draw of that prior, not at the true lens, even without noise. For each
// source s_k (sources the data allow, e.g. posterior samples under the
// score prior) the noise-free image y_k = A(x) s_k is observed through the
// lens x of the fit (sim: the operator of that lens, on the sources' grid),
// the lens is fitted again from x (MaximiseNear on refit(y_k)), and the
// offset is b_k = x_k − x in the Objective's free parameters. The source
// amplitude's offset is set to 0 (noise-free data prefer their own).
//
// The correction x − b̄ with the spread of the b_k added to the posterior
// is what ApplyOffsets does to the draws of a fit. It removes the part of
// the model's offset that the sources s_k share with the true source
// (measured on simulations: docs/lens-fitting.md).
func SourceOffsets(ctx context.Context, refit func(y []float64) (*Objective, error), x []float64, sim *lens.Operator, sources [][]float64) (offsets [][]float64, evals int, err error) {
	if len(sources) == 0 {
		return nil, 0, errors.New("lensfit: source offsets: no sources")
	}
	m, n := sim.Dims()
	y := make([]float64, m)
	for k, s := range sources {
		if len(s) != n {
			return nil, evals, fmt.Errorf("lensfit: source offsets: source %d has %d pixels, the operator's grid %d", k, len(s), n)
		}
		sim.Apply(y, s)
		o, err := refit(slices.Clone(y))
		if err != nil {
			return nil, evals, fmt.Errorf("lensfit: source offsets: source %d: %w", k, err)
		}
		if o.Dim() != len(x) {
			return nil, evals, fmt.Errorf("lensfit: source offsets: the refit has %d free parameters, the fit %d", o.Dim(), len(x))
		}
		xk, _, ne, err := MaximiseNear(ctx, o, x)
		evals += ne
		if err != nil {
			return nil, evals, fmt.Errorf("lensfit: source offsets: refit %d: %w", k, err)
		}
		b := make([]float64, len(x))
		for i, name := range o.Names() {
			if slices.Contains(lens.ParamNames[:], name) {
				b[i] = xk[i] - x[i]
			}
		}
		offsets = append(offsets, b)
	}
	return offsets, evals, nil
}

// ApplyOffsets subtracts the offsets b_k (SourceOffsets) from the draws of
// res: the kept chain states (after res.Burn, numbered step by step and
// chain by chain) and res.Samples, draw i taking b_(i mod K). The corrected
// draws are those of the posterior shifted by −b̄ and convolved with the
// spread of the b_k. res.MAP stays the evidence's maximum.
func ApplyOffsets(res *FitResult, offsets [][]float64) error {
	if len(offsets) == 0 {
		return errors.New("lensfit: apply offsets: none")
	}
	d := len(res.Names)
	for _, b := range offsets {
		if len(b) != d {
			return fmt.Errorf("lensfit: apply offsets: an offset has %d parameters, the fit %d", len(b), d)
		}
	}
	K := len(offsets)
	res.MAP = slices.Clone(res.MAP) // it may be a chain state (MAPFromChain)
	i := 0
	for _, st := range res.Chain[res.Burn:] {
		for _, w := range st {
			for j, b := range offsets[i%K] {
				w[j] -= b
			}
			i++
		}
	}
	for i, s := range res.Samples {
		for j, b := range offsets[i%K] {
			s[j] -= b
		}
	}
	return nil
}
