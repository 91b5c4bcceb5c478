package experiment

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/sde"
)

// Debias configures the source-model offset correction of the lens
// recovery and its calibration probe (LensRecoveryOptions.Debias).
//
// The lens posterior under a Gaussian source prior is offset from the truth
// even on noise-free data: the model prefers the lens that makes the real
// source look most like a draw of the Gaussian prior. That offset
// b(s, L) = argmax_L' p(A_L s | L') − L depends on the source s and,
// slowly, on the lens L. The correction estimates it at the fitted lens L̂
// with sources s_k that the data allow: each s_k is observed noise-free
// through L̂, the lens is fitted again from L̂ (lensfit.SourceOffsets), and
// b_k = L̂_k − L̂. The corrected estimate is L̂ − mean_k b_k, and the spread
// of the b_k is added to the posterior variance: σ² + (1 + 1/K) var_k b_k.
type Debias struct {
	// K is the number of sources s_k (≥ 1).
	K int
	// Source says where the s_k come from: "truth" (the true source; the
	// oracle, which bounds what the correction can do: K is then 1) or
	// "score" (posterior samples of the source at L̂ under Prior, from the
	// noisy observation).
	Source string
	// Prior and VE are the score prior and its diffusion ("score" only);
	// Proxy is the Gaussian proxy of the projected likelihood (nil: the
	// prior when it is a GRF).
	Prior posterior.Prior
	VE    sde.VE
	Proxy *posterior.GRF
	// Sampler, Steps and JacobianBelow set the source sampler
	// (projected-jacobian likelihood); defaults dpm2, 40 and 0.1, the
	// low-cost calibrated setting.
	Sampler       string
	Steps         int
	JacobianBelow float64
}

func (d *Debias) check() error {
	switch d.Source {
	case "truth":
		d.K = 1
	case "score":
		if d.Prior == nil {
			return errors.New("experiment: debias with score sources needs a prior")
		}
		if d.K < 1 {
			return fmt.Errorf("experiment: debias needs K ≥ 1 sources, got %d", d.K)
		}
		if d.Sampler == "" {
			d.Sampler = "dpm2"
		}
		if d.Steps == 0 {
			d.Steps = 40
		}
		if d.JacobianBelow == 0 {
			d.JacobianBelow = 0.1
		}
	default:
		return fmt.Errorf("experiment: debias source must be truth or score, got %q", d.Source)
	}
	return nil
}

// debiasSources returns the sources s_k of lens j at the fitted lens mp
// from the observation y of noise σ (Side² pixels each).
func (o *LensRecoveryOptions) debiasSources(ctx context.Context, j int, mp lens.Params, y []float64, sigma float64, simCfg lens.Config) ([][]float64, error) {
	d := o.Debias
	if d.Source == "truth" {
		return [][]float64{o.Galaxies[j%len(o.Galaxies)]}, nil
	}
	if d.Prior.Dim() != o.Side*o.Side {
		return nil, fmt.Errorf("experiment: debias prior has %d pixels, the simulation's source %d²", d.Prior.Dim(), o.Side)
	}
	op, err := lens.NewOperator(mp.Mass(), simCfg)
	if err != nil {
		return nil, err
	}
	lik, err := posterior.NewLikelihood(posterior.LikelihoodProjectedJacobian, posterior.LikelihoodConfig{Op: op, Y: y, SigmaN: []float64{sigma},
		Sigma: d.VE.Sigma, Prior: d.Prior, Proxy: d.Proxy, Chains: d.K})
	if err != nil {
		return nil, err
	}
	res, err := posterior.Sample(ctx, d.Prior, lik, d.VE, posterior.Options{Steps: d.Steps, Sampler: d.Sampler, Chains: d.K,
		Seed: seedFor(o.Seed, 23, uint64(j)), PriorJacobian: true, JacobianBelow: d.JacobianBelow})
	if err != nil {
		return nil, err
	}
	return res.Samples, nil
}

// debiasOne fills l's offsets (lensfit.SourceOffsets, refits from the
// MAP on the fit's grid) and corrected estimate (l.MAP, l.SD,
// l.Log10Scale set).
func (o *LensRecoveryOptions) debiasOne(ctx context.Context, l *LensProbeLens, y []float64, sigma float64, simCfg, fitCfg lens.Config) (evals int, err error) {
	mp := lens.Params(l.MAP)
	srcs, err := o.debiasSources(ctx, l.Index, mp, y, sigma, simCfg)
	if err != nil {
		return 0, err
	}
	op, err := lens.NewOperator(mp.Mass(), simCfg)
	if err != nil {
		return 0, err
	}
	half := 0.5 * float64(fitCfg.Obs.N) * fitCfg.Obs.Scale
	refit := func(y []float64) (*lensfit.Objective, error) {
		ev, err := lensfit.NewEvidence(fitCfg, lensfit.Data{Y: y, SigmaN: []float64{sigma}}, o.Prior)
		if err != nil {
			return nil, err
		}
		return lensfit.NewObjective(ev, lens.DefaultPriors(half), mp, true, l.Log10Scale)
	}
	obj, err := refit(y)
	if err != nil {
		return 0, err
	}
	x := obj.Pack(mp, l.Log10Scale)
	offs, evals, err := lensfit.SourceOffsets(ctx, refit, x, op, srcs)
	if err != nil {
		return evals, err
	}
	l.Offsets = make([][7]float64, len(offs))
	xk := make([]float64, len(x))
	for k, b := range offs {
		for i := range x {
			xk[i] = x[i] + b[i]
		}
		pk, _ := obj.Unpack(xk)
		for i := range pk {
			l.Offsets[k][i] = pk[i] - mp[i]
		}
	}
	K := float64(len(srcs))
	for i := range lens.ParamNames {
		var mean, v float64
		for _, b := range l.Offsets {
			mean += b[i] / K
		}
		if len(srcs) > 1 {
			for _, b := range l.Offsets {
				v += (b[i] - mean) * (b[i] - mean) / (K - 1)
			}
		}
		l.MAPDebiased[i] = l.MAP[i] - mean
		l.SDDebiased[i] = math.Sqrt(l.SD[i]*l.SD[i] + (1+1/K)*v)
		l.ZDebiased[i] = (l.MAPDebiased[i] - l.Truth[i]) / l.SDDebiased[i]
	}
	return evals, nil
}
