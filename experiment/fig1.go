package experiment

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
)

// Fig1Options configures Fig1. Zero values select the defaults.
type Fig1Options struct {
	Galaxy  int     // index into Setup.Galaxies (0)
	SigmaN  float64 // noise σ_n as a fraction of the noise-free image's peak (0.02)
	Samples int     // posterior samples (16)
	Steps   int     // reverse-time steps (0: sde.StepsFor(dim, 0.99))
	Sampler string  // "em" (default) or "pc"
	Denoise bool    // final Tweedie step
	// Likelihood is "convolved" (the paper's, default) or "projected"
	// (posterior.NewProjected with Setup.Proxy or a GRF prior).
	Likelihood string
	// Lens overrides DefaultLens when not nil.
	Lens *LensParams
	// Fig3Samples is the number of samples drawn in fig3.png (min(Samples, 6)).
	Fig3Samples int
}

// Fig1Result holds the numbers of Fig1 (also written to fig1.json).
type Fig1Result struct {
	Prior  string     `json:"prior"`
	Galaxy string     `json:"galaxy"`
	Lens   LensParams `json:"lens"`
	// SigmaN is the absolute noise σ_n; SigmaNFrac the fraction of the
	// noise-free image's peak it was set from.
	SigmaN     float64 `json:"sigma_n"`
	SigmaNFrac float64 `json:"sigma_n_frac"`
	Samples    int     `json:"samples"`
	Sampler    string  `json:"sampler"`
	Denoise    bool    `json:"denoise"`
	Likelihood string  `json:"likelihood"`
	// Chi2Nu holds χ²_ν of every sample, Chi2NuMean that of the posterior
	// mean, Chi2NuStd the spread √(2/ν) expected of an exact model.
	Chi2Nu     []float64 `json:"chi2nu"`
	Chi2NuMean float64   `json:"chi2nu_mean"`
	Chi2NuAvg  float64   `json:"chi2nu_avg"`
	Chi2NuStd  float64   `json:"chi2nu_expected_std"`
	Nu         int       `json:"nu"`
	SourceRMS  float64   `json:"source_residual_snr_rms"` // RMS of (truth − mean)/std
	SourceMean float64   `json:"source_residual_snr_mean"`
	Pearson    float64   `json:"pearson_mean_truth"`
	PearsonOne float64   `json:"pearson_sample_truth"`
	RMSE       float64   `json:"rmse_mean_truth"`
	MeanStd    float64   `json:"mean_posterior_std"`
	Timing     Timing    `json:"timing"`
	Files      []string  `json:"files"`
}

// Fig1 observes one validation galaxy through the fixed lens, draws
// posterior samples and writes fig1.png (the layout of Adam et al. 2022,
// fig. 1), fig3.png (samples, reconstructions and residuals) and fig1.json
// into dir.
func Fig1(ctx context.Context, s Setup, o Fig1Options, dir string) (*Fig1Result, error) {
	s, err := s.normalized()
	if err != nil {
		return nil, err
	}
	if err := s.needGalaxies("fig1"); err != nil {
		return nil, err
	}
	if o.Galaxy < 0 || o.Galaxy >= len(s.Galaxies) {
		return nil, fmt.Errorf("experiment: fig1: galaxy index %d out of range [0, %d)", o.Galaxy, len(s.Galaxies))
	}
	if o.SigmaN == 0 {
		o.SigmaN = 0.02
	}
	if o.Samples == 0 {
		o.Samples = 16
	}
	if o.Samples < 2 {
		return nil, fmt.Errorf("experiment: fig1: need at least 2 samples, got %d", o.Samples)
	}
	if o.Sampler == "" {
		o.Sampler = "em"
	}
	if o.Likelihood == "" {
		o.Likelihood = string(posterior.LikelihoodConvolved)
	}
	kind := posterior.LikelihoodKind(o.Likelihood)
	if kind != posterior.LikelihoodConvolved && kind != posterior.LikelihoodProjected {
		return nil, fmt.Errorf("experiment: fig1: Likelihood %q must be convolved or projected", o.Likelihood)
	}
	if kind == posterior.LikelihoodProjected && s.proxy() == nil {
		return nil, errors.New("experiment: fig1: Likelihood projected needs Setup.Proxy or a GRF prior")
	}
	if o.Fig3Samples == 0 {
		o.Fig3Samples = min(o.Samples, 6)
	}
	o.Fig3Samples = min(o.Fig3Samples, o.Samples)
	lp := DefaultLens
	if o.Lens != nil {
		lp = *o.Lens
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}

	truth := s.Galaxies[o.Galaxy]
	p, err := s.simulate(truth, lp, o.SigmaN, seedFor(s.Seed, tagFig1, tagNoise))
	if err != nil {
		return nil, fmt.Errorf("experiment: fig1: %w", err)
	}
	s.logf("fig1: %s, σ_n = %.4g (%.3g × peak), %d samples", s.name(o.Galaxy), p.sigmaN, o.SigmaN, o.Samples)
	var lik posterior.Likelihood = p.lik // the convolved likelihood
	if kind != posterior.LikelihoodConvolved {
		if lik, err = posterior.NewLikelihood(kind, posterior.LikelihoodConfig{Op: p.op, Y: p.y, SigmaN: []float64{p.sigmaN},
			Sigma: s.VE.Sigma, Prior: s.Prior, Proxy: s.proxy()}); err != nil {
			return nil, fmt.Errorf("experiment: fig1: %w", err)
		}
	}
	res, wall, err := s.sample(ctx, lik, sampleOpts{Steps: o.Steps, Sampler: o.Sampler, Denoise: o.Denoise,
		Chains: o.Samples, Seed: seedFor(s.Seed, tagFig1, tagSampler)})
	if err != nil {
		return nil, fmt.Errorf("experiment: fig1: %w", err)
	}
	if err := checkCtx(ctx, "fig1"); err != nil {
		return nil, err
	}

	mean, std, err := diag.MeanStd(res.Samples)
	if err != nil {
		return nil, err
	}
	per, chiMean, err := chi2All(p, res.Samples, mean)
	if err != nil {
		return nil, err
	}
	m, _ := p.op.Dims()
	srcRes := make([]float64, len(truth))
	if err := diag.SourceResidualSNR(srcRes, truth, mean, std); err != nil {
		return nil, err
	}
	rmsRes, meanRes := finiteRMS(srcRes)
	rho, err := diag.Pearson(mean, truth)
	if err != nil {
		return nil, err
	}
	rho1, err := diag.Pearson(res.Samples[0], truth)
	if err != nil {
		return nil, err
	}
	rmse, err := diag.RMSE(mean, truth)
	if err != nil {
		return nil, err
	}

	// Image-plane panels.
	recon := make([][]float64, len(res.Samples))
	for k, x := range res.Samples {
		recon[k] = apply(p.op, x)
	}
	_, astd, err := diag.MeanStd(recon)
	if err != nil {
		return nil, err
	}
	nz := diag.Noise{Sigma: p.sigmaN}
	units := "brightness (peak 1)"
	title := fmt.Sprintf("%s — %s, σ_n = %.3g × peak, %d samples", s.PriorName, s.name(o.Galaxy), o.SigmaN, o.Samples)
	f1 := join(dir, "fig1.png")
	if err := plot.Fig1(f1, plot.Fig1Data{
		Title: title, NX: s.Side, NY: s.Side, SourceScale: s.SrcScale,
		Truth: truth, Sample1: res.Samples[0], Sample2: res.Samples[1], Mean: mean, Std: std,
		MX: s.NPix, MY: s.NPix, ImageScale: s.PixScale,
		Observation: p.y, ASample1: recon[0], ASample2: recon[1], AMean: apply(p.op, mean), AStd: astd,
		Noise: nz, Units: units,
	}); err != nil {
		return nil, err
	}
	f3 := join(dir, "fig3.png")
	if err := plot.Fig3(f3, plot.Fig3Data{
		Title: title, NX: s.Side, NY: s.Side, SourceScale: s.SrcScale,
		MX: s.NPix, MY: s.NPix, ImageScale: s.PixScale,
		Samples: res.Samples[:o.Fig3Samples], Recon: recon[:o.Fig3Samples],
		Observation: p.y, Noise: nz, Units: units,
	}); err != nil {
		return nil, err
	}

	out := &Fig1Result{
		Prior: s.PriorName, Galaxy: s.name(o.Galaxy), Lens: lp,
		SigmaN: p.sigmaN, SigmaNFrac: o.SigmaN, Samples: o.Samples, Sampler: o.Sampler, Denoise: o.Denoise, Likelihood: o.Likelihood,
		Chi2Nu: per, Chi2NuMean: chiMean, Chi2NuAvg: meanOf(per), Chi2NuStd: diag.ChiSquaredNuStd(m), Nu: m,
		SourceRMS: rmsRes, SourceMean: meanRes, Pearson: rho, PearsonOne: rho1, RMSE: rmse, MeanStd: meanOf(std),
		Timing: timingOf(res, wall),
		Files:  []string{"fig1.png", "fig3.png", "fig1.json"},
	}
	if err := WriteJSON(join(dir, "fig1.json"), out); err != nil {
		return nil, err
	}
	s.logf("fig1: χ²_ν(mean) = %.3f, ρ(mean, truth) = %.3f, source residual RMS = %.2f, NFE = %d, %.1fs",
		chiMean, rho, rmsRes, res.NFE, wall.Seconds())
	return out, nil
}

// finiteRMS returns the root mean square and the mean of the finite values.
func finiteRMS(v []float64) (rms, mean float64) {
	s, s2, n := 0.0, 0.0, 0
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		s += x
		s2 += x * x
		n++
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return math.Sqrt(s2 / float64(n)), s / float64(n)
}
