package experiment

import (
	"context"
	"fmt"
	"math"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/plot"
)

// Fig2Options configures Fig2. Zero values select the defaults.
type Fig2Options struct {
	// Levels are the noise levels σ_n as fractions of the noise-free
	// image's peak, increasing (0.01, 0.03, 0.1, 0.3).
	Levels  []float64
	Samples int // posterior samples per level (4)
	Steps   int // reverse-time steps (0: automatic)
	Sampler string
	Denoise bool
	// Char is the out-of-distribution character drawn as the source ('3');
	// StrokeWidth its Gaussian stroke width in source pixels (1.5).
	Char        rune
	StrokeWidth float64
	// Source, when not nil, replaces the glyph as the true source
	// (Side×Side, row-major).
	Source []float64
	// Lens overrides DefaultLens when not nil.
	Lens *LensParams
}

// Fig2Level holds the numbers of one noise level.
type Fig2Level struct {
	SigmaNFrac float64 `json:"sigma_n_frac"`
	SigmaN     float64 `json:"sigma_n"`
	// PearsonSample is ρ(first sample, truth), PearsonSamples that of
	// every sample and PearsonMean ρ(mean of the samples, truth).
	PearsonSample  float64   `json:"pearson_sample"`
	PearsonSamples []float64 `json:"pearson_samples"`
	PearsonMean    float64   `json:"pearson_mean"`
	Chi2NuMean     float64   `json:"chi2nu_mean"`
	RMSEMean       float64   `json:"rmse_mean"`
	Timing         Timing    `json:"timing"`
}

// Fig2Result holds the numbers of Fig2 (also written to fig2.json).
type Fig2Result struct {
	Prior   string      `json:"prior"`
	Source  string      `json:"source"`
	Lens    LensParams  `json:"lens"`
	Samples int         `json:"samples_per_level"`
	Levels  []Fig2Level `json:"levels"`
	Files   []string    `json:"files"`
}

// Fig2 observes an out-of-distribution source (a glowing character, see
// Glyph) through the fixed lens at increasing noise levels and draws
// posterior samples at each. It writes fig2.png (observation, a sample and
// the mean per level, with their correlation with the truth) and
// fig2.json into dir.
func Fig2(ctx context.Context, s Setup, o Fig2Options, dir string) (*Fig2Result, error) {
	s, err := s.normalized()
	if err != nil {
		return nil, err
	}
	if len(o.Levels) == 0 {
		o.Levels = []float64{0.01, 0.03, 0.1, 0.3}
	}
	for i, l := range o.Levels {
		if !(l > 0) || math.IsInf(l, 0) || (i > 0 && l <= o.Levels[i-1]) {
			return nil, fmt.Errorf("experiment: fig2: Levels must be positive, finite and increasing, got %v", o.Levels)
		}
	}
	if o.Samples == 0 {
		o.Samples = 4
	}
	if o.Samples < 1 {
		return nil, fmt.Errorf("experiment: fig2: Samples must be ≥ 1, got %d", o.Samples)
	}
	if o.Sampler == "" {
		o.Sampler = "em"
	}
	if o.Char == 0 {
		o.Char = '3'
	}
	if o.StrokeWidth == 0 {
		o.StrokeWidth = 1.5
	}
	lp := DefaultLens
	if o.Lens != nil {
		lp = *o.Lens
	}
	truth, srcName := o.Source, "custom source"
	if truth == nil {
		if truth, err = Glyph(o.Char, s.Side, o.StrokeWidth); err != nil {
			return nil, err
		}
		srcName = fmt.Sprintf("glyph %q, stroke width %g px", o.Char, o.StrokeWidth)
	} else if len(truth) != s.Side*s.Side {
		return nil, fmt.Errorf("experiment: fig2: Source has %d pixels, want %d", len(truth), s.Side*s.Side)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}

	out := &Fig2Result{Prior: s.PriorName, Source: srcName, Lens: lp, Samples: o.Samples}
	var levels []plot.NoiseLevel
	for i, frac := range o.Levels {
		if err := checkCtx(ctx, "fig2"); err != nil {
			return nil, err
		}
		p, err := s.simulate(truth, lp, frac, seedFor(s.Seed, tagFig2, tagNoise, uint64(i)))
		if err != nil {
			return nil, fmt.Errorf("experiment: fig2: level %d: %w", i, err)
		}
		s.logf("fig2: level %d/%d, σ_n = %.3g × peak", i+1, len(o.Levels), frac)
		res, wall, err := s.sample(ctx, p.lik, sampleOpts{Steps: o.Steps, Sampler: o.Sampler, Denoise: o.Denoise,
			Chains: o.Samples, Seed: seedFor(s.Seed, tagFig2, tagSampler, uint64(i))})
		if err != nil {
			return nil, fmt.Errorf("experiment: fig2: level %d: %w", i, err)
		}
		mean := meanImage(res.Samples)
		lv := Fig2Level{SigmaNFrac: frac, SigmaN: p.sigmaN, Timing: timingOf(res, wall)}
		for _, x := range res.Samples {
			r, err := diag.Pearson(x, truth)
			if err != nil {
				return nil, err
			}
			lv.PearsonSamples = append(lv.PearsonSamples, r)
		}
		lv.PearsonSample = lv.PearsonSamples[0]
		if lv.PearsonMean, err = diag.Pearson(mean, truth); err != nil {
			return nil, err
		}
		if _, lv.Chi2NuMean, err = chi2All(p, nil, mean); err != nil {
			return nil, err
		}
		if lv.RMSEMean, err = diag.RMSE(mean, truth); err != nil {
			return nil, err
		}
		out.Levels = append(out.Levels, lv)
		nl := plot.NoiseLevel{SigmaN: p.sigmaN, Observation: p.y, Sample: res.Samples[0]}
		if o.Samples > 1 {
			nl.Mean = mean
		}
		levels = append(levels, nl)
		s.logf("fig2: σ_n = %.3g × peak: ρ(sample) = %.3f, ρ(mean) = %.3f", frac, lv.PearsonSample, lv.PearsonMean)
	}
	title := fmt.Sprintf("%s — out-of-distribution source (%s), %d samples per level", s.PriorName, srcName, o.Samples)
	if err := plot.Fig2(join(dir, "fig2.png"), plot.Fig2Data{
		Title: title, NX: s.Side, NY: s.Side, SourceScale: s.SrcScale,
		MX: s.NPix, MY: s.NPix, ImageScale: s.PixScale,
		Truth: truth, Levels: levels, Units: "brightness (peak 1)",
	}); err != nil {
		return nil, err
	}
	out.Files = []string{"fig2.png", "fig2.json"}
	if err := WriteJSON(join(dir, "fig2.json"), out); err != nil {
		return nil, err
	}
	return out, nil
}

// meanImage returns the per-pixel mean of the images.
func meanImage(imgs [][]float64) []float64 {
	m := make([]float64, len(imgs[0]))
	for _, x := range imgs {
		for i, v := range x {
			m[i] += v
		}
	}
	for i := range m {
		m[i] /= float64(len(imgs))
	}
	return m
}
