package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/posterior"
)

// The source-model offset correction of fit-lens (--debias-sources): the
// lens posterior under the Gaussian source prior is offset from the truth by
// the prior's own preference (docs/lens-fitting.md); K posterior samples of
// the source under the score prior at the MAP lens are observed noise-free
// through it, the lens is refitted on each (lensfit.SourceOffsets), and the
// draws are shifted by the offsets (lensfit.ApplyOffsets).

// Sampler settings of the correction's source samples: the low-cost
// calibrated setting (docs/likelihood-and-sampler.md).
const (
	debiasSampler       = "dpm2"
	debiasSteps         = 40
	debiasJacobianBelow = 0.1
)

type debiasFlags struct {
	k     *int
	model *string
}

func addDebiasFlags(fs *flag.FlagSet) debiasFlags {
	return debiasFlags{
		k:     fs.Int("debias-sources", 0, "correct the lens posterior for the Gaussian source prior's own offset with this many score-prior source samples at the MAP lens (0: off; 4 is a good start; each costs a refit of the lens, ≈ 300 evidence evaluations)"),
		model: fs.String("debias-model", "", "with --debias-sources: the network prior of the source samples (default: the shipped one); its side must be the observation's source grid"),
	}
}

// load checks the flags and loads the network prior (nil when off), before
// the fit, so that a wrong prior fails at once.
func (d debiasFlags) load(srcN int) (*loadedPrior, error) {
	if *d.k < 0 {
		return nil, fmt.Errorf("--debias-sources must be ≥ 0, got %d", *d.k)
	}
	if *d.k == 0 {
		if *d.model != "" {
			return nil, fmt.Errorf("--debias-model %s is given without --debias-sources", *d.model)
		}
		return nil, nil
	}
	pr, err := loadNetworkPrior(*d.model, srcN, *d.k)
	if err != nil {
		return nil, fmt.Errorf("--debias-sources: %w", err)
	}
	return pr, nil
}

// sourceOffsetRecord is the correction as recorded in summary.json.
type sourceOffsetRecord struct {
	Sources     int                    `json:"sources"`
	Prior       string                 `json:"prior"`
	Sampler     string                 `json:"sampler"`
	Offsets     map[string][]lensfit.F `json:"offsets"`
	MeanOffset  map[string]lensfit.F   `json:"mean_offset"`
	Evaluations int                    `json:"evaluations"`
	Seconds     float64                `json:"seconds"`
	Note        string                 `json:"note"`
}

// debiasFit draws the source samples at the MAP of res, computes the
// offsets and applies them to res's draws.
func debiasFit(ctx context.Context, net *loadedPrior, k int, p *problem, data lensfit.Data, gp posterior.GaussianPrior, pr lens.Priors,
	init lens.Params, fitScale bool, obj *lensfit.Objective, res *lensfit.FitResult, seed uint64, progress func(string, ...any)) (*sourceOffsetRecord, error) {
	start := time.Now()
	mp, s := obj.Unpack(res.MAP)
	op, err := lens.NewOperator(mp.Mass(), p.Geo.config())
	if err != nil {
		return nil, err
	}
	pm := *p
	pm.Op = op
	lik, err := likelihoodFor(posterior.LikelihoodProjectedJacobian, "", &pm, net, k)
	if err != nil {
		return nil, fmt.Errorf("--debias-sources: %w", err)
	}
	progress("source-model offset: %d source samples at the MAP lens (%s %d steps, projected-jacobian below σ = %g)", k, debiasSampler, debiasSteps, debiasJacobianBelow)
	sr, err := posterior.Sample(ctx, net.Prior, lik, net.VE, posterior.Options{Steps: debiasSteps, Sampler: debiasSampler, Chains: k,
		Seed: seed ^ 0x5eed0ff5e7, PriorJacobian: true, JacobianBelow: debiasJacobianBelow})
	if err != nil {
		return nil, fmt.Errorf("--debias-sources: sampling the sources: %w", err)
	}
	refit := func(y []float64) (*lensfit.Objective, error) {
		ev, err := lensfit.NewEvidence(p.Geo.config(), lensfit.Data{Y: y, SigmaN: data.SigmaN, Keep: data.Keep}, gp)
		if err != nil {
			return nil, err
		}
		return lensfit.NewObjective(ev, pr, init, fitScale, s)
	}
	progress("source-model offset: refitting the lens on their noise-free images")
	offs, evals, err := lensfit.SourceOffsets(ctx, refit, res.MAP, op, sr.Samples)
	if err != nil {
		return nil, err
	}
	if err := lensfit.ApplyOffsets(res, offs); err != nil {
		return nil, err
	}
	rec := &sourceOffsetRecord{Sources: k, Prior: net.Name, Sampler: fmt.Sprintf("%s %d steps, projected-jacobian below σ = %g", debiasSampler, debiasSteps, debiasJacobianBelow),
		Offsets: map[string][]lensfit.F{}, MeanOffset: map[string]lensfit.F{}, Evaluations: evals, Seconds: time.Since(start).Seconds(),
		Note: "the draws (lens_samples.jsonl, chain.json after burn-in, the parameter summaries) are shifted by −offset k, draw i taking k = i mod sources; map and lens.json stay the evidence's maximum"}
	for j, name := range res.Names {
		m := 0.0
		for _, b := range offs {
			rec.Offsets[name] = append(rec.Offsets[name], lensfit.F(b[j]))
			m += b[j] / float64(len(offs))
		}
		rec.MeanOffset[name] = lensfit.F(m)
	}
	return rec, nil
}
