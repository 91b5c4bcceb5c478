package experiment

import (
	"context"
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
)

// SamplerConfig is one sampler setting compared by Steps.
type SamplerConfig struct {
	Name      string  `json:"name"`
	Sampler   string  `json:"sampler"` // "em" or "pc"
	Steps     int     `json:"steps"`   // predictor steps
	Corrector int     `json:"corrector,omitempty"`
	SNR       float64 `json:"snr,omitempty"`
	Denoise   bool    `json:"denoise"`
}

// DefaultStepConfigs returns the configurations compared by default for
// the technique-2 step count n: EM at n, n/2, n/4, n/8; PC (one corrector,
// r = 0.16) at n/4 and n/8; EM with a final Tweedie step at n/4 and n/8.
// The first is the reference.
func DefaultStepConfigs(n int) []SamplerConfig {
	d := func(k int) int { return max(1, n/k) }
	return []SamplerConfig{
		{Name: "EM N", Sampler: "em", Steps: n},
		{Name: "EM N/2", Sampler: "em", Steps: d(2)},
		{Name: "EM N/4", Sampler: "em", Steps: d(4)},
		{Name: "EM N/8", Sampler: "em", Steps: d(8)},
		{Name: "PC N/4", Sampler: "pc", Steps: d(4), Corrector: 1, SNR: posterior.DefaultSNR},
		{Name: "PC N/8", Sampler: "pc", Steps: d(8), Corrector: 1, SNR: posterior.DefaultSNR},
		{Name: "EM+Tweedie N/4", Sampler: "em", Steps: d(4), Denoise: true},
		{Name: "EM+Tweedie N/8", Sampler: "em", Steps: d(8), Denoise: true},
	}
}

// StepsOptions configures Steps. Zero values select the defaults.
type StepsOptions struct {
	Lenses  int     // lenses (4)
	Samples int     // posterior samples per lens and config (16)
	SigmaN  float64 // noise as a fraction of the peak (0.02)
	// Configs to compare; nil selects DefaultStepConfigs(StepsFor(dim, 0.99)).
	// The first is the reference for Tolerance.
	Configs []SamplerConfig
	// Tolerance is the relative distance to the reference within which a
	// configuration counts as equivalent (0.05).
	Tolerance float64
}

// StepsRow is one configuration's averages over the lenses.
type StepsRow struct {
	Config SamplerConfig `json:"config"`
	NFE    int           `json:"nfe"`
	// Chi2Nu is the mean χ²_ν of the samples; RMSE that of the posterior
	// mean against the truth; MeanStd the mean posterior std; RMSEOverStd
	// RMSE/MeanStd (≈ 1 for a calibrated posterior).
	Chi2Nu      float64 `json:"chi2nu"`
	RMSE        float64 `json:"rmse"`
	MeanStd     float64 `json:"mean_std"`
	RMSEOverStd float64 `json:"rmse_over_std"`
	// RangeCoverage is the fraction of source pixels whose true value lies
	// within the range of the samples (diag.RangeCoverage), averaged over
	// the lenses: (K−1)/(K+1) for a calibrated posterior
	// (StepsResult.RangeCoverageExpected), less when over-confident.
	RangeCoverage float64 `json:"range_coverage"`
	WallSeconds   float64 `json:"wall_seconds"` // total over the lenses
	// Within is true when Chi2Nu and RMSE are within Tolerance of the
	// reference.
	Within bool `json:"within_tolerance"`
}

// StepsResult holds the comparison (also steps.json).
type StepsResult struct {
	Prior     string  `json:"prior"`
	Dim       int     `json:"dim"`
	N         int     `json:"technique2_steps"`
	Lenses    int     `json:"lenses"`
	Samples   int     `json:"samples"`
	Tolerance float64 `json:"tolerance"`
	// RangeCoverageExpected is (K−1)/(K+1) for K = Samples.
	RangeCoverageExpected float64    `json:"range_coverage_expected"`
	Rows                  []StepsRow `json:"rows"`
	// Cheapest is the index in Rows of the configuration with the fewest
	// NFE among those within tolerance of the reference (Rows[0]).
	Cheapest     int      `json:"cheapest"`
	CheapestName string   `json:"cheapest_name"`
	Files        []string `json:"files"`
}

// Steps compares sampler configurations on the same lenses, noise and
// seeds: for each configuration the number of network evaluations, the
// mean χ²_ν of the samples, the RMSE of the posterior mean against the
// truth, the mean posterior std and the wall time. It writes steps.json,
// steps_chi2.png and steps_rmse.png (against NFE) into dir.
func Steps(ctx context.Context, s Setup, o StepsOptions, dir string) (*StepsResult, error) {
	s, err := s.normalized()
	if err != nil {
		return nil, err
	}
	if err := s.needGalaxies("steps"); err != nil {
		return nil, err
	}
	if o.Lenses == 0 {
		o.Lenses = 4
	}
	if o.Samples == 0 {
		o.Samples = 16
	}
	if o.Lenses < 1 || o.Samples < 2 {
		return nil, fmt.Errorf("experiment: steps: need Lenses ≥ 1 and Samples ≥ 2, got %d and %d", o.Lenses, o.Samples)
	}
	if o.SigmaN == 0 {
		o.SigmaN = 0.02
	}
	if o.Tolerance == 0 {
		o.Tolerance = 0.05
	}
	dim := s.Prior.Dim()
	n, err := s.VE.StepsFor(dim, posterior.DefaultTarget)
	if err != nil {
		return nil, fmt.Errorf("experiment: steps: %w", err)
	}
	if o.Configs == nil {
		o.Configs = DefaultStepConfigs(n)
	}
	for i, c := range o.Configs {
		if c.Steps < 1 || (c.Sampler != "em" && c.Sampler != "pc") {
			return nil, fmt.Errorf("experiment: steps: config %d (%s): need Steps ≥ 1 and Sampler em or pc", i, c.Name)
		}
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}

	probs := make([]*problem, o.Lenses)
	for j := range probs {
		lp := RandomLens(rand.New(rand.NewPCG(seedFor(s.Seed, tagSteps, tagLens), uint64(j))))
		g := j % len(s.Galaxies)
		if probs[j], err = s.simulate(s.Galaxies[g], lp, o.SigmaN, seedFor(s.Seed, tagSteps, tagNoise, uint64(j))); err != nil {
			return nil, fmt.Errorf("experiment: steps: lens %d: %w", j, err)
		}
	}
	out := &StepsResult{Prior: s.PriorName, Dim: dim, N: n, Lenses: o.Lenses, Samples: o.Samples, Tolerance: o.Tolerance,
		RangeCoverageExpected: diag.RangeCoverageExpected(o.Samples)}
	for ci, c := range o.Configs {
		row := StepsRow{Config: c}
		var chi, rmse, sd, cov float64
		for j, p := range probs {
			if err := checkCtx(ctx, "steps"); err != nil {
				return nil, err
			}
			s.logf("steps: %s, lens %d/%d", c.Name, j+1, o.Lenses)
			// Every configuration sees the same seeds.
			res, wall, err := s.sample(ctx, p.lik, sampleOpts{Steps: c.Steps, Sampler: c.Sampler, Corrector: c.Corrector,
				SNR: c.SNR, Denoise: c.Denoise, Chains: o.Samples, Seed: seedFor(s.Seed, tagSteps, tagSampler, uint64(j))})
			if err != nil {
				return nil, fmt.Errorf("experiment: steps: config %d (%s): %w", ci, c.Name, err)
			}
			mean, std, err := diag.MeanStd(res.Samples)
			if err != nil {
				return nil, err
			}
			per, _, err := chi2All(p, res.Samples, nil)
			if err != nil {
				return nil, err
			}
			r, err := diag.RMSE(mean, p.truth)
			if err != nil {
				return nil, err
			}
			rc, err := diag.RangeCoverage(res.Samples, p.truth)
			if err != nil {
				return nil, err
			}
			chi += meanOf(per)
			rmse += r
			cov += rc
			sd += meanOf(std)
			row.NFE = res.NFE
			row.WallSeconds += wall.Seconds()
		}
		k := float64(o.Lenses)
		row.Chi2Nu, row.RMSE, row.MeanStd, row.RangeCoverage = chi/k, rmse/k, sd/k, cov/k
		row.RMSEOverStd = row.RMSE / row.MeanStd
		out.Rows = append(out.Rows, row)
		s.logf("steps: %s: NFE %d, χ²_ν %.3f, RMSE %.4g, std %.4g, range coverage %.3f (calibrated %.3f), %.1fs",
			c.Name, row.NFE, row.Chi2Nu, row.RMSE, row.MeanStd, row.RangeCoverage, out.RangeCoverageExpected, row.WallSeconds)
	}
	ref := out.Rows[0]
	out.Cheapest = 0
	for i := range out.Rows {
		r := &out.Rows[i]
		r.Within = math.Abs(r.Chi2Nu-ref.Chi2Nu) <= o.Tolerance*ref.Chi2Nu && math.Abs(r.RMSE-ref.RMSE) <= o.Tolerance*ref.RMSE
		if r.Within && r.NFE < out.Rows[out.Cheapest].NFE {
			out.Cheapest = i
		}
	}
	out.CheapestName = out.Rows[out.Cheapest].Config.Name

	if err := stepsPlots(dir, out); err != nil {
		return nil, err
	}
	out.Files = []string{"steps_chi2.png", "steps_rmse.png", "steps.json"}
	if err := WriteJSON(join(dir, "steps.json"), out); err != nil {
		return nil, err
	}
	return out, nil
}

// stepsPlots draws χ²_ν and RMSE against NFE, one series per sampler
// family, on logarithmic axes (a diverging sampler would flatten the rest).
func stepsPlots(dir string, r *StepsResult) error {
	type fam struct {
		label string
		col   color.Color
		match func(SamplerConfig) bool
	}
	fams := []fam{
		{"EM", color.NRGBA{31, 119, 180, 255}, func(c SamplerConfig) bool { return c.Sampler == "em" && !c.Denoise }},
		{"PC", color.NRGBA{214, 39, 40, 255}, func(c SamplerConfig) bool { return c.Sampler == "pc" && !c.Denoise }},
		{"EM+Tweedie", color.NRGBA{44, 160, 44, 255}, func(c SamplerConfig) bool { return c.Sampler == "em" && c.Denoise }},
		{"PC+Tweedie", color.NRGBA{148, 103, 189, 255}, func(c SamplerConfig) bool { return c.Sampler == "pc" && c.Denoise }},
	}
	build := func(val func(StepsRow) float64) []plot.Series {
		var ss []plot.Series
		for _, f := range fams {
			var xs, ys []float64
			for _, row := range r.Rows {
				if f.match(row.Config) {
					xs = append(xs, float64(row.NFE))
					ys = append(ys, val(row))
				}
			}
			if len(xs) == 0 {
				continue
			}
			sortXY(xs, ys)
			ss = append(ss, plot.Series{Label: f.label, X: xs, Y: ys, Color: f.col})
		}
		// The reference level as a dashed line.
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, row := range r.Rows {
			lo, hi = math.Min(lo, float64(row.NFE)), math.Max(hi, float64(row.NFE))
		}
		ref := val(r.Rows[0])
		ss = append(ss, plot.Series{Label: "reference (" + r.Rows[0].Config.Name + ")", X: []float64{lo, hi}, Y: []float64{ref, ref},
			Dashed: true, Color: color.NRGBA{90, 90, 90, 255}})
		return ss
	}
	sub := fmt.Sprintf("%s, %d lenses × %d samples", r.Prior, r.Lenses, r.Samples)
	if err := plot.CurveWith(join(dir, "steps_chi2.png"), "mean χ²/ν of samples vs cost — "+sub, "network evaluations (NFE)", "χ²/ν",
		plot.CurveOptions{LogY: true}, build(func(x StepsRow) float64 { return x.Chi2Nu })...); err != nil {
		return err
	}
	return plot.CurveWith(join(dir, "steps_rmse.png"), "RMSE of posterior mean vs cost — "+sub, "network evaluations (NFE)", "RMSE (mean − truth)",
		plot.CurveOptions{LogY: true}, build(func(x StepsRow) float64 { return x.RMSE })...)
}

// sortXY sorts the pairs by x (insertion sort; a handful of points).
func sortXY(x, y []float64) {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && x[j] < x[j-1]; j-- {
			x[j], x[j-1] = x[j-1], x[j]
			y[j], y[j-1] = y[j-1], y[j]
		}
	}
}

// ParseStepConfigs parses a comma-separated list of sampler settings for
// Steps, each "KIND:COUNT" with KIND em, pc (one corrector step, the default
// signal-to-noise ratio) or em+tweedie, and COUNT either a number of steps
// or "N/d" (the technique-2 count n divided by d, at least 1), e.g.
// "em:N/4,em:N/8,pc:N/16,em+tweedie:100". The first entry is the reference.
func ParseStepConfigs(spec string, n int) ([]SamplerConfig, error) {
	var out []SamplerConfig
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		kind, count, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("experiment: sampler setting %q: want KIND:COUNT (e.g. em:N/8)", item)
		}
		var steps int
		if d, isFrac := strings.CutPrefix(count, "N/"); isFrac {
			k, err := strconv.Atoi(d)
			if err != nil || k < 1 {
				return nil, fmt.Errorf("experiment: sampler setting %q: divisor %q is not a positive integer", item, d)
			}
			steps = max(1, n/k)
		} else if count == "N" {
			steps = n
		} else {
			k, err := strconv.Atoi(count)
			if err != nil || k < 1 {
				return nil, fmt.Errorf("experiment: sampler setting %q: step count %q is not a positive integer or N/d", item, count)
			}
			steps = k
		}
		c := SamplerConfig{Steps: steps}
		switch kind {
		case "em":
			c.Sampler, c.Name = "em", "EM "+count
		case "pc":
			c.Sampler, c.Name, c.Corrector, c.SNR = "pc", "PC "+count, 1, posterior.DefaultSNR
		case "em+tweedie":
			c.Sampler, c.Name, c.Denoise = "em", "EM+Tweedie "+count, true
		default:
			return nil, fmt.Errorf("experiment: sampler setting %q: kind %q is not em, pc or em+tweedie", item, kind)
		}
		out = append(out, c)
	}
	return out, nil
}
