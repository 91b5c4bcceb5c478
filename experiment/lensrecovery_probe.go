package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
)

// LensProbeParts is the folder of finished lenses of a calibration probe.
const LensProbeParts = "lens_probe_parts"

// LensProbeLens is the calibration probe of one lens: the posterior maximum
// found from the truth and its Laplace widths (lensfit.FitNear).
type LensProbeLens struct {
	Index      int        `json:"index"`
	Truth      [7]float64 `json:"truth"`
	MAP        [7]float64 `json:"map"`
	SD         [7]float64 `json:"sd"` // Laplace standard deviations
	Z          [7]float64 `json:"z"`  // (MAP − truth)/sd
	Log10Scale float64    `json:"log10_source_scale"`
	// Shape is the source prior's shape parameter (LensRecoveryOptions.Shape)
	// set by type-II maximum likelihood at the first MAP (0 when not fitted).
	Shape          float64 `json:"shape_parameter"`
	FullRank       bool    `json:"laplace_full_rank"`
	Evaluations    int     `json:"evaluations"`
	CPUSeconds     float64 `json:"cpu_seconds,omitempty"`
	WallSeconds    float64 `json:"wall_seconds"`
	SourceRMSE     float64 `json:"source_rmse_true_lens"` // posterior-mean source at the true lens, fit grid, peak = 1
	LogEvidenceGap float64 `json:"log_evidence_map_minus_truth"`
	// With LensRecoveryOptions.Debias: the offsets b_k of the refits, the
	// corrected estimate MAP − mean b_k, its standard deviation and z.
	Offsets     [][7]float64 `json:"debias_offsets,omitempty"`
	MAPDebiased [7]float64   `json:"map_debiased"`
	SDDebiased  [7]float64   `json:"sd_debiased"`
	ZDebiased   [7]float64   `json:"z_debiased"`
}

// LensProbeResult is lens_recovery_probe.json.
type LensProbeResult struct {
	Lenses   []LensProbeLens     `json:"lenses"`
	Params   []LensRecoveryParam `json:"parameters"` // coverage from the Gaussian intervals |z| < 1, 1.96
	Failures int                 `json:"failures"`   // some |z| > 5 (excluded from Params)
	// ParamsDebiased and FailuresDebiased are the same for the corrected
	// estimates (LensRecoveryOptions.Debias).
	ParamsDebiased   []LensRecoveryParam `json:"parameters_debiased,omitempty"`
	FailuresDebiased int                 `json:"failures_debiased,omitempty"`
	MeanCPU          float64             `json:"mean_cpu_seconds_per_lens"`
	MedianWall       float64             `json:"median_wall_seconds_per_lens"`
	MeanGap          float64             `json:"mean_log_evidence_gap"`
	Settings         map[string]any      `json:"settings"`
}

// LensRecoveryProbe measures the calibration of the lens posterior on the
// lenses idx cheaply: for each, the posterior maximum is found from the
// truth (lensfit.FitNear: whitened BFGS, then the Laplace approximation),
// without the multi-start search and the chains of LensRecovery. With
// o.Shape the GRF's shape parameter is set by type-II maximum likelihood at
// that maximum (lensfit.OptimiseHyper) and the maximum is found again with
// it. With o.GapNoiseFree the observation is noise-free (σ unchanged), so
// z = b/σ is the offset the model itself prefers (source grid, prior): a
// calibrated model has b ≈ 0, and b inflates the std of z of noisy data to
// ≈ √(1 + mean b²). The statistics are those of LensRecovery with z = (MAP − truth)/σ_Laplace
// and the Gaussian 68 / 95 % intervals. Finished lenses are stored in
// dir/LensProbeParts; a rerun reuses them. cpu, if not nil, reads the
// process CPU time in seconds.
func LensRecoveryProbe(ctx context.Context, o LensRecoveryOptions, idx []int, dir string, cpu func() float64) (*LensProbeResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	parts := filepath.Join(dir, LensProbeParts)
	if err := os.MkdirAll(parts, 0o755); err != nil {
		return nil, err
	}
	simCfg, fitCfg, err := o.configs()
	if err != nil {
		return nil, err
	}
	res := &LensProbeResult{Settings: map[string]any{"lenses": idx, "fit_source_side": o.FitSide, "fit_source_pixel_scale": fitCfg.Src.Scale,
		"prior_shape": o.Shape, "noise_free": o.GapNoiseFree, "noise_seed": o.NoiseSeed, "noise_fraction": o.Noise, "psf_fwhm": o.PSFFWHM, "seed": o.Seed, "method": "lensfit.FitNear from the truth (Laplace at the maximum)"}}
	if d := o.Debias; d != nil {
		if err := d.check(); err != nil {
			return nil, err
		}
		res.Settings["debias"] = map[string]any{"source": d.Source, "k": d.K, "sampler": d.Sampler, "steps": d.Steps, "jacobian_below": d.JacobianBelow}
	}
	for _, j := range idx {
		part := filepath.Join(parts, fmt.Sprintf("lens-%03d.json", j))
		if b, err := os.ReadFile(part); err == nil {
			var l LensProbeLens
			if err := json.Unmarshal(b, &l); err != nil {
				return nil, fmt.Errorf("experiment: %s: %w", part, err)
			}
			if (o.Debias != nil) != (len(l.Offsets) > 0) {
				return nil, fmt.Errorf("experiment: %s was probed %s the source-model offset correction; use another output folder", part, map[bool]string{true: "with", false: "without"}[len(l.Offsets) > 0])
			}
			res.Lenses = append(res.Lenses, l)
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, err := o.probeOne(ctx, j, simCfg, fitCfg, cpu)
		if err != nil {
			return nil, fmt.Errorf("experiment: probe lens %d: %w", j, err)
		}
		if err := writeLensPart(part, j, l); err != nil {
			return nil, err
		}
		res.Lenses = append(res.Lenses, l)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "lens-recovery probe: lens %d: θ_E z %+.2f, max |z| %.2f, shape %.2f, %d evaluations, %.0f CPU-s, %.0f s\n",
				j, l.Z[0], maxAbs(l.Z[:]), l.Shape, l.Evaluations, l.CPUSeconds, l.WallSeconds)
			if len(l.Offsets) > 0 {
				fmt.Fprintf(o.Progress, "  z %+.2f\n  debiased z %+.2f (%d sources)\n", l.Z, l.ZDebiased, len(l.Offsets))
			}
		}
	}
	res.summarise()
	if err := WriteJSON(filepath.Join(dir, "lens_recovery_probe.json"), res); err != nil {
		return nil, err
	}
	return res, nil
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// probeOne measures lens j.
func (o *LensRecoveryOptions) probeOne(ctx context.Context, j int, simCfg, fitCfg lens.Config, cpu func() float64) (LensProbeLens, error) {
	t0, c0 := time.Now(), 0.0
	if cpu != nil {
		c0 = cpu()
	}
	truth := RecoveryLens(o.Seed, j)
	l := LensProbeLens{Index: j, Truth: truth}
	y, sigma, err := o.simulate(j, simCfg)
	if err != nil {
		return l, err
	}
	if o.GapNoiseFree { // same σ, no noise: the MAP's offset is the model's own
		op, err := lens.NewOperator(truth.Mass(), simCfg)
		if err != nil {
			return l, err
		}
		op.Apply(y, o.Galaxies[j%len(o.Galaxies)])
	}
	data := lensfit.Data{Y: y, SigmaN: []float64{sigma}}
	ev, err := lensfit.NewEvidence(fitCfg, data, o.Prior)
	if err != nil {
		return l, err
	}
	evals := 0
	var shape lensfit.Shape
	var lo, hi float64
	switch o.Shape {
	case "":
	case "tilt":
		shape, lo, hi = lensfit.TiltedGRF, -2, 2
	case "white":
		shape, lo, hi = lensfit.WhiteMixGRF, -4, 2
	default:
		return l, fmt.Errorf("unknown prior shape %q (want tilt or white)", o.Shape)
	}
	h, err := lensfit.OptimiseHyper(ctx, ev, o.Prior, truth, nil, nil, 0, 0)
	if err != nil {
		return l, err
	}
	evals += h.Evaluations
	half := 0.5 * float64(fitCfg.Obs.N) * fitCfg.Obs.Scale
	fitAt := func(start lens.Params, scale float64) (*lensfit.Objective, *lensfit.LocalFit, error) {
		obj, err := lensfit.NewObjective(ev, lens.DefaultPriors(half), start, true, scale)
		if err != nil {
			return nil, nil, err
		}
		lf, err := lensfit.FitNear(ctx, obj, obj.Pack(start, scale))
		if err != nil {
			return nil, nil, err
		}
		evals += lf.Evaluations
		return obj, lf, nil
	}
	obj, lf, err := fitAt(truth, h.Log10Scale)
	if err != nil {
		return l, err
	}
	if shape != nil {
		mp, _ := obj.Unpack(lf.MAP)
		h, err = lensfit.OptimiseHyper(ctx, ev, o.Prior, mp, nil, shape, lo, hi)
		if err != nil {
			return l, err
		}
		evals += h.Evaluations
		l.Shape = h.Shape
		if obj, lf, err = fitAt(mp, h.Log10Scale); err != nil {
			return l, err
		}
	}
	mp, s := obj.Unpack(lf.MAP)
	l.MAP, l.Log10Scale, l.FullRank = mp, s, lf.Cov != nil
	for k := range lens.ParamNames {
		l.SD[k] = lf.SD[k]
		l.Z[k] = (mp[k] - truth[k]) / lf.SD[k]
	}
	// Evidence gap (amplitude at the MAP's) and the source at the truth.
	lm, err := ev.LogEvidence(mp.Mass(), s*math.Ln10, nil)
	if err != nil {
		return l, err
	}
	lt, err := ev.LogEvidence(truth.Mass(), s*math.Ln10, nil)
	if err != nil {
		return l, err
	}
	l.LogEvidenceGap = lm - lt
	src := make([]float64, fitCfg.Src.N*fitCfg.Src.N)
	if err := ev.PosteriorMean(src, nil); err != nil {
		return l, err
	}
	l.SourceRMSE = rmse(src, RebinField(o.Galaxies[j%len(o.Galaxies)], o.Side, o.SrcScale, o.FitSide, o.FitScale))
	if o.Debias != nil {
		n, err := o.debiasOne(ctx, &l, y, sigma, simCfg, fitCfg)
		if err != nil {
			return l, err
		}
		evals += n
	}
	l.Evaluations = evals + 2
	l.WallSeconds = time.Since(t0).Seconds()
	if cpu != nil {
		l.CPUSeconds = cpu() - c0
	}
	return l, nil
}

// summarise fills the per-parameter tables.
func (r *LensProbeResult) summarise() {
	var walls, cpus, gaps []float64
	debiased := false
	for _, l := range r.Lenses {
		walls, cpus, gaps = append(walls, l.WallSeconds), append(cpus, l.CPUSeconds), append(gaps, l.LogEvidenceGap)
		debiased = debiased || len(l.Offsets) > 0
	}
	if len(walls) > 0 {
		sort.Float64s(walls)
		r.MedianWall, r.MeanCPU, r.MeanGap = walls[len(walls)/2], meanOf(cpus), meanOf(gaps)
	}
	r.Params, r.Failures = probeParams(r.Lenses, func(l *LensProbeLens) (*[7]float64, *[7]float64) { return &l.MAP, &l.Z })
	r.ParamsDebiased, r.FailuresDebiased = nil, 0
	if debiased {
		r.ParamsDebiased, r.FailuresDebiased = probeParams(r.Lenses, func(l *LensProbeLens) (*[7]float64, *[7]float64) { return &l.MAPDebiased, &l.ZDebiased })
	}
}

// probeParams tables the estimates and z that pick returns for each lens:
// the lenses with some |z| > 5 are counted as failures and left out.
func probeParams(lenses []LensProbeLens, pick func(*LensProbeLens) (est, z *[7]float64)) ([]LensRecoveryParam, int) {
	var params []LensRecoveryParam
	failures := 0
	for i := range lenses {
		if _, z := pick(&lenses[i]); maxAbs(z[:]) > 5 {
			failures++
		}
	}
	for k, name := range lens.ParamNames {
		p := LensRecoveryParam{Name: name}
		var z, e []float64
		for i := range lenses {
			l := &lenses[i]
			est, zl := pick(l)
			if maxAbs(zl[:]) > 5 {
				continue
			}
			z, e = append(z, zl[k]), append(e, est[k]-l.Truth[k])
			if math.Abs(zl[k]) <= 1 {
				p.Cover68++
			}
			if math.Abs(zl[k]) <= 1.96 {
				p.Cover95++
			}
			if math.Abs(zl[k]) > 3 {
				p.Outliers++
			}
		}
		n := float64(len(z))
		if n > 0 {
			p.Cover68 /= n
			p.Cover95 /= n
			p.setErrors(e, z)
		}
		params = append(params, p)
	}
	return params, failures
}

// Rebin resamples an n×n image of the field onto m×m pixels of the same
// field by the exact area overlap (pixel-averaged values): for m dividing
// n it is Downsample(x, n, n/m).
func Rebin(x []float64, n, m int) []float64 {
	return RebinField(x, n, 1/float64(n), m, 1/float64(m))
}

// RebinField resamples an n×n image of pixel size s onto m×m pixels of size
// S, both grids centred on the origin, by the exact area overlap: each
// output pixel is the mean of the piecewise-constant input over its area
// (zero outside the input's field).
func RebinField(x []float64, n int, s float64, m int, S float64) []float64 {
	// w[i][a]: the fraction of output pixel i covered by input pixel a, per axis.
	w := make([][]float64, m)
	for i := range w {
		w[i] = make([]float64, n)
		lo, hi := (float64(i)-float64(m)/2)*S, (float64(i+1)-float64(m)/2)*S
		for a := range w[i] {
			alo, ahi := (float64(a)-float64(n)/2)*s, (float64(a+1)-float64(n)/2)*s
			if ov := math.Min(hi, ahi) - math.Max(lo, alo); ov > 0 {
				w[i][a] = ov / S
			}
		}
	}
	t := make([]float64, n*m) // rows input, columns output
	for r := 0; r < n; r++ {
		for c := 0; c < m; c++ {
			var v float64
			for a, wa := range w[c] {
				if wa != 0 {
					v += wa * x[r*n+a]
				}
			}
			t[r*m+c] = v
		}
	}
	out := make([]float64, m*m)
	for r := 0; r < m; r++ {
		for a, wa := range w[r] {
			if wa == 0 {
				continue
			}
			for c := 0; c < m; c++ {
				out[r*m+c] += wa * t[a*m+c]
			}
		}
	}
	return out
}
