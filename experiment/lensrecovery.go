package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/plot"
	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/progress"
	"github.com/lenscore/lenscore/weights"
)

// LensRecoveryOptions configures LensRecovery: simulated lenses of
// validation galaxies with random SIE + shear, each fitted by lensfit from a
// perturbed start.
type LensRecoveryOptions struct {
	Galaxies [][]float64 // true sources, Side×Side, peak-normalised (validation galaxies)
	Names    []string    // their names (may be nil)
	Side     int         // source side of the simulation (default 64)
	SrcScale float64     // its pixel size (default DefaultSrcField/Side)
	NPix     int         // observation side (default 64)
	PixScale float64     // its pixel size (default DefaultObsField/NPix)
	PSFFWHM  float64     // Gaussian PSF FWHM in arcsec (default 0.1, HST-like)
	Noise    float64     // σ_n as a fraction of the noise-free peak (default 0.02)
	// FitSide is the source grid of the evidence (default Side/2, same
	// field), so the fit never uses the grid that made the data.
	FitSide int
	// FitScale is the pixel size of that grid (default Side·SrcScale/FitSide:
	// the simulation's field); a smaller field concentrates the pixels on
	// the galaxy.
	FitScale float64
	// Prior is the Gaussian source prior of the evidence (FitSide² pixels).
	Prior       posterior.GaussianPrior
	Lenses      int                // number of lenses (default 30)
	Fit         lensfit.FitOptions // optimiser and sampler settings
	SourceDraws int                // lens draws averaged for the marginalised source (default 8)
	Seed        uint64
	Resume      bool // reuse the lenses stored in dir/LensRecoveryParts
	// Shard, Shards (0 ≤ Shard < Shards) split the lenses between
	// processes sharing dir: this one fits the lenses j with
	// j mod Shards = Shard and writes only their parts; a run with Shards
	// ≤ 1 and Resume then tables them all.
	Shard, Shards int
	// GapNoiseFree makes LensRecoveryGaps evaluate the evidences, and
	// LensRecoveryProbe fit, on the noise-free observation (same σ): a gap there near −(the noisy gap)
	// says the fitted lens was pulled off the truth by the noise, a
	// positive one that the model prefers a wrong lens even without noise.
	GapNoiseFree bool
	// Shape makes the GRF prior's shape a hyperparameter set per lens by
	// type-II maximum likelihood at the MAP lens: "tilt" (lensfit.TiltedGRF,
	// β ∈ [−2, 2]) or "white" (lensfit.WhiteMixGRF, log10 fraction ∈
	// [−4, 2]); "" keeps it fixed. LensRecoveryProbe only (LensRecovery
	// refuses it).
	Shape string
	// NoiseSeed, when not 0, draws another noise realisation of every lens
	// (same truth, source and σ). LensRecoveryProbe only.
	NoiseSeed uint64
	// Debias, when not nil, adds the source-model offset correction: to
	// LensRecoveryProbe's MAP and Laplace widths, and to LensRecovery's
	// draws (see Debias).
	Debias   *Debias
	Progress io.Writer // progress lines (nil: none)
}

// LensRecoveryParts is the folder of finished lenses (one JSON each).
const LensRecoveryParts = "lens_recovery_parts"

// LensRecoveryLens is the outcome for one lens.
type LensRecoveryLens struct {
	Index  int            `json:"index"`
	Galaxy string         `json:"galaxy"`
	Truth  [7]float64     `json:"truth"` // lens.ParamNames order
	Start  [7]float64     `json:"start"`
	MAP    [7]float64     `json:"map"`
	Mean   [7]float64     `json:"mean"`
	Std    [7]float64     `json:"std"`
	Q      [5][7]float64  `json:"quantiles"` // 2.5, 16, 50, 84, 97.5 %
	Modes  int            `json:"modes"`
	Failed bool           `json:"failed"`
	Stats  map[string]any `json:"fit"`
	// SourceRMSETrue and SourceRMSEMarg are the RMS errors (peak = 1 units)
	// on the fit grid of the posterior-mean source given the true lens and
	// averaged over SourceDraws lens draws.
	SourceRMSETrue float64 `json:"source_rmse_true_lens"`
	SourceRMSEMarg float64 `json:"source_rmse_marginalised"`
	WallSeconds    float64 `json:"wall_seconds"`
	// Offsets are the source-model offsets subtracted from the draws
	// (LensRecoveryOptions.Debias; lensfit.ApplyOffsets): the mean, std and
	// quantiles are of the corrected draws, MAP is the evidence's maximum.
	Offsets [][7]float64 `json:"source_offsets,omitempty"`
	// Uncorrected and Correction are set by LensRecoveryCorrect: the plain
	// fit's summaries and how the correction was made.
	Uncorrected *LensMarginals `json:"uncorrected,omitempty"`
	// MAPLog10Scale is the source amplitude (log10) at the MAP (nil in
	// parts written before session 14: LensRecoveryCorrect then takes it
	// from the recorded mode that is the MAP).
	MAPLog10Scale *float64        `json:"map_log10_source_scale,omitempty"`
	Correction    *LensCorrection `json:"correction,omitempty"`
}

// LensRecoveryParam summarises one parameter over the lenses that did not
// fail (a wrong mode is counted in LensRecoveryResult.Failures instead).
type LensRecoveryParam struct {
	Name     string  `json:"name"`
	Bias     float64 `json:"bias"`      // mean of (posterior mean − truth)
	BiasZ    float64 `json:"bias_z"`    // mean of z = (mean − truth)/std
	StdZ     float64 `json:"std_z"`     // standard deviation of z
	RMS      float64 `json:"rms_error"` // RMS of (mean − truth)
	RelRMS   float64 `json:"relative_rms_error,omitempty"`
	Cover68  float64 `json:"coverage_68"` // truth inside [q16, q84]
	Cover95  float64 `json:"coverage_95"` // truth inside [q2.5, q97.5]
	Outliers int     `json:"abs_z_above_3"`
}

// LensRecoveryResult is lens_recovery.json.
type LensRecoveryResult struct {
	Lenses         []LensRecoveryLens  `json:"lenses"`
	Params         []LensRecoveryParam `json:"parameters"`
	Failures       int                 `json:"failures"`
	MedianWall     float64             `json:"median_wall_seconds_per_lens"`
	SourceRMSETrue float64             `json:"mean_source_rmse_true_lens"`
	SourceRMSEMarg float64             `json:"mean_source_rmse_marginalised"`
	Settings       map[string]any      `json:"settings"`
	// Set by LensRecoveryCorrect: the table of the same lenses before the
	// correction, and z pooled over all parameters and lenses.
	ParamsUncorrected   []LensRecoveryParam `json:"parameters_uncorrected,omitempty"`
	FailuresUncorrected int                 `json:"failures_uncorrected,omitempty"`
	Pooled              *PooledZ            `json:"pooled,omitempty"`
	PooledUncorrected   *PooledZ            `json:"pooled_uncorrected,omitempty"`
}

func (o *LensRecoveryOptions) defaults() error {
	if o.Side == 0 {
		o.Side = 64
	}
	if o.NPix == 0 {
		o.NPix = 64
	}
	if o.SrcScale == 0 {
		o.SrcScale = DefaultSrcField / float64(o.Side)
	}
	if o.PixScale == 0 {
		o.PixScale = DefaultObsField / float64(o.NPix)
	}
	if o.PSFFWHM == 0 {
		o.PSFFWHM = 0.1
	}
	if o.Noise == 0 {
		o.Noise = 0.02
	}
	if o.FitSide == 0 {
		o.FitSide = o.Side / 2
	}
	if o.Lenses == 0 {
		o.Lenses = 30
	}
	if o.FitScale == 0 && o.FitSide > 0 {
		o.FitScale = o.SrcScale * float64(o.Side) / float64(o.FitSide)
	}
	if o.SourceDraws == 0 {
		o.SourceDraws = 8
	}
	switch {
	case len(o.Galaxies) == 0:
		return errors.New("experiment: lens recovery needs validation galaxies")
	case o.FitSide < 2 || !(o.FitScale > 0) || math.IsInf(o.FitScale, 0):
		return fmt.Errorf("experiment: lens recovery: the fit grid (side %d, pixel %g″) must have at least 2 pixels of a positive size", o.FitSide, o.FitScale)
	case o.Prior == nil || o.Prior.Dim() != o.FitSide*o.FitSide:
		return fmt.Errorf("experiment: lens recovery: the Gaussian prior must have %d² pixels", o.FitSide)
	case o.Lenses < 1:
		return fmt.Errorf("experiment: lens recovery: lenses must be ≥ 1, got %d", o.Lenses)
	case o.Shards > 1 && (o.Shard < 0 || o.Shard >= o.Shards):
		return fmt.Errorf("experiment: lens recovery: shard %d of %d is not in [0, %d)", o.Shard, o.Shards, o.Shards)
	}
	for i, g := range o.Galaxies {
		if len(g) != o.Side*o.Side {
			return fmt.Errorf("experiment: lens recovery: galaxy %d has %d pixels, want %d", i, len(g), o.Side*o.Side)
		}
	}
	return nil
}

// RecoveryLens draws the true lens j: θ_E ∈ U(0.8, 1.6)″, q ∈ U(0.5, 1),
// φ ∈ U(0, π), |γ| ≤ 0.1 uniform in the disc, centre ∈ U(−0.1, 0.1)″².
func RecoveryLens(seed uint64, j int) lens.Params {
	r := rand.New(rand.NewPCG(seedFor(seed, 17, uint64(j)), 1))
	var p lens.Params
	p[lens.PThetaE] = 0.8 + 0.8*r.Float64()
	q, phi := 0.5+0.5*r.Float64(), math.Pi*r.Float64()
	p[lens.PE1], p[lens.PE2] = lens.EllipticityFromQPhi(q, phi)
	g, a := 0.1*math.Sqrt(r.Float64()), 2*math.Pi*r.Float64()
	p[lens.PGamma1], p[lens.PGamma2] = g*math.Cos(a), g*math.Sin(a)
	p[lens.PCenterX], p[lens.PCenterY] = 0.2*r.Float64()-0.1, 0.2*r.Float64()-0.1
	return p
}

// RecoveryStart is the perturbed start of lens j: θ_E · (1 ± up to 15 %),
// e = γ = 0, centre 0.
func RecoveryStart(seed uint64, j int, truth lens.Params) lens.Params {
	r := rand.New(rand.NewPCG(seedFor(seed, 18, uint64(j)), 2))
	var p lens.Params
	p[lens.PThetaE] = truth[lens.PThetaE] * (1 + 0.15*(2*r.Float64()-1))
	return p
}

// Downsample averages f×f blocks of an n×n image (n a multiple of f).
func Downsample(x []float64, n, f int) []float64 {
	m := n / f
	out := make([]float64, m*m)
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			out[(r/f)*m+c/f] += x[r*n+c] / float64(f*f)
		}
	}
	return out
}

func rmse(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += (a[i] - b[i]) * (a[i] - b[i])
	}
	return math.Sqrt(s / float64(len(a)))
}

// LensRecovery simulates o.Lenses lenses and fits each (see the package
// documentation); finished lenses are stored in dir/LensRecoveryParts so an
// interrupted run continues with Resume. It writes lens_recovery.json,
// lens_recovery_z.png and lens_recovery_thetae.png.
func LensRecovery(ctx context.Context, o LensRecoveryOptions, dir string) (*LensRecoveryResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.Shape != "" || o.NoiseSeed != 0 {
		return nil, errors.New("experiment: lens recovery: a fitted prior shape and another noise realisation are measured by LensRecoveryProbe only")
	}
	if o.Debias != nil {
		if err := o.Debias.check(); err != nil {
			return nil, err
		}
	}
	parts := filepath.Join(dir, LensRecoveryParts)
	if err := os.MkdirAll(parts, 0o755); err != nil {
		return nil, err
	}
	simCfg, fitCfg, err := o.configs()
	if err != nil {
		return nil, err
	}
	res := &LensRecoveryResult{Settings: map[string]any{"lenses": o.Lenses, "source_side": o.Side, "source_pixel_scale": o.SrcScale,
		"npix": o.NPix, "pixel_scale": o.PixScale, "psf_fwhm": o.PSFFWHM, "noise_fraction": o.Noise, "fit_source_side": o.FitSide,
		"fit_source_pixel_scale": fitCfg.Src.Scale, "starts": o.Fit.Starts, "steps": o.Fit.Steps, "walkers": o.Fit.Walkers,
		"burn": o.Fit.Burn, "rhat_target": o.Fit.RHatTarget, "ess_target": o.Fit.ESSTarget, "sampler": "mcmc.Chains (Laplace-preconditioned Metropolis–Hastings)", "source_draws": o.SourceDraws, "seed": o.Seed}}
	if d := o.Debias; d != nil {
		res.Settings["debias"] = map[string]any{"source": d.Source, "k": d.K, "sampler": d.Sampler, "steps": d.Steps, "jacobian_below": d.JacobianBelow}
	}
	t0, fitted := time.Now(), 0
	for j := 0; j < o.Lenses; j++ {
		part := filepath.Join(parts, fmt.Sprintf("lens-%03d.json", j))
		if o.Resume {
			if b, err := os.ReadFile(part); err == nil {
				var l LensRecoveryLens
				if err := json.Unmarshal(b, &l); err != nil {
					return nil, fmt.Errorf("experiment: %s: %w", part, err)
				}
				if (o.Debias != nil) != (len(l.Offsets) > 0) {
					return nil, fmt.Errorf("experiment: %s was fitted %s the source-model offset correction; use another output folder", part, map[bool]string{true: "with", false: "without"}[len(l.Offsets) > 0])
				}
				res.Lenses = append(res.Lenses, l)
				continue
			}
		}
		if o.Shards > 1 && j%o.Shards != o.Shard {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, err := o.recoverOne(ctx, j, simCfg, fitCfg, filepath.Join(parts, fmt.Sprintf("lens-%03d.checkpoint.json", j)))
		if err != nil {
			return nil, err
		}
		if err := writeLensPart(part, j, l); err != nil {
			return nil, err
		}
		res.Lenses = append(res.Lenses, l)
		fitted++
		if o.Progress != nil {
			eta := time.Duration(float64(time.Since(t0)) / float64(fitted) * float64(o.Lenses-j-1))
			fmt.Fprintf(o.Progress, "experiment: lens-recovery lens %d/%d: θ_E %.4f (truth %.4f) ± %.4f, failed %v, %.0f s; eta %s\n",
				j+1, o.Lenses, l.Mean[0], l.Truth[0], l.Std[0], l.Failed, l.WallSeconds, progress.FormatDuration(eta))
		}
	}
	res.summarise()
	if o.Shards > 1 { // the table is written by a final unsharded run
		return res, nil
	}
	if err := WriteJSON(filepath.Join(dir, "lens_recovery.json"), res); err != nil {
		return nil, err
	}
	if err := res.figures(dir); err != nil {
		return nil, err
	}
	return res, nil
}

// simulate returns the noisy observation of lens j and its noise σ.
func (o *LensRecoveryOptions) simulate(j int, simCfg lens.Config) ([]float64, float64, error) {
	truth := RecoveryLens(o.Seed, j)
	op, err := lens.NewOperator(truth.Mass(), simCfg)
	if err != nil {
		return nil, 0, err
	}
	m, _ := op.Dims()
	y := make([]float64, m)
	op.Apply(y, o.Galaxies[j%len(o.Galaxies)])
	sigma := o.Noise * slices.Max(y)
	ns := seedFor(o.Seed, 19, uint64(j))
	if o.NoiseSeed != 0 {
		ns = seedFor(o.Seed, 19, uint64(j), o.NoiseSeed)
	}
	if err := lens.AddNoise(y, sigma, ns); err != nil {
		return nil, 0, err
	}
	return y, sigma, nil
}

// LensRecoveryGap compares, for one finished lens, the evidence of the
// fitted MAP lens and of the true lens, each maximised over the source
// prior's amplitude (golden-section search in log10 a on [−2, 2]):
// Gap = log p(y | MAP) − log p(y | truth). For a calibrated posterior
// that is nearly Gaussian in d parameters, 2·Gap ~ χ²_d (mean d); a gap
// much larger means the truth lies far outside the posterior — the model
// (source grid, source prior) fits the data better with a wrong lens.
type LensRecoveryGap struct {
	Index     int     `json:"index"`
	Side      int     `json:"fit_source_side"`
	NoiseFree bool    `json:"noise_free"`
	LogEvMAP  float64 `json:"log_evidence_map"`
	LogEvTru  float64 `json:"log_evidence_truth"`
	Gap       float64 `json:"gap"`
	Chi2MAP   float64 `json:"chi2_nu_map"`
	Chi2Tru   float64 `json:"chi2_nu_truth"`
}

// LensRecoveryGaps computes LensRecoveryGap for each finished lens in
// dir/LensRecoveryParts (at most n of them, 0: all) on the source grid of
// side side under prior (side must divide o.Side, prior side² pixels).
func LensRecoveryGaps(ctx context.Context, o LensRecoveryOptions, dir string, side int, prior posterior.GaussianPrior, n int) ([]LensRecoveryGap, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if side < 2 || o.Side%side != 0 || prior == nil || prior.Dim() != side*side {
		return nil, fmt.Errorf("experiment: lens recovery gaps: side %d must divide %d and the prior have %d² pixels", side, o.Side, side)
	}
	psf, err := lens.GaussianPSF(o.PSFFWHM, o.PixScale, 0)
	if err != nil {
		return nil, err
	}
	simCfg := lens.Config{Obs: lens.Grid{N: o.NPix, Scale: o.PixScale}, Src: lens.Grid{N: o.Side, Scale: o.SrcScale}, PSF: psf}
	cfg := lens.Config{Obs: simCfg.Obs, Src: lens.Grid{N: side, Scale: o.SrcScale * float64(o.Side/side)}, PSF: psf}
	var out []LensRecoveryGap
	for j := 0; j < o.Lenses && (n == 0 || len(out) < n); j++ {
		b, err := os.ReadFile(filepath.Join(dir, LensRecoveryParts, fmt.Sprintf("lens-%03d.json", j)))
		if err != nil {
			continue
		}
		var l LensRecoveryLens
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("experiment: lens %d: %w", j, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		y, sigma, err := o.simulate(j, simCfg)
		if err != nil {
			return nil, err
		}
		if o.GapNoiseFree {
			op, err := lens.NewOperator(lens.Params(l.Truth).Mass(), simCfg)
			if err != nil {
				return nil, err
			}
			op.Apply(y, o.Galaxies[j%len(o.Galaxies)])
		}
		d := lensfit.Data{Y: y, SigmaN: []float64{sigma}}
		ev, err := lensfit.NewEvidence(cfg, d, prior)
		if err != nil {
			return nil, err
		}
		g := LensRecoveryGap{Index: j, Side: side, NoiseFree: o.GapNoiseFree}
		for k, p := range []lens.Params{l.MAP, l.Truth} {
			f := func(s float64) float64 {
				v, err := ev.LogEvidence(p.Mass(), s*math.Ln10, nil)
				if err != nil {
					return math.Inf(-1)
				}
				return v
			}
			s := lensfit.GoldenMax(f, -2, 2, 0.01)
			obj, err := lensfit.NewObjective(ev, lens.DefaultPriors(0.5*float64(o.NPix)*o.PixScale), p, false, s)
			if err != nil {
				return nil, fmt.Errorf("experiment: lens %d: %w", j, err)
			}
			_, _, _, chi2, _, err := lensfit.MAPModel(obj, &lensfit.FitResult{MAP: obj.Pack(p, s)}, d)
			if err != nil {
				return nil, err
			}
			if k == 0 {
				g.LogEvMAP, g.Chi2MAP = f(s), chi2
			} else {
				g.LogEvTru, g.Chi2Tru = f(s), chi2
			}
		}
		g.Gap = g.LogEvMAP - g.LogEvTru
		out = append(out, g)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "lens-recovery gap: lens %d, %d² grid, noise-free %v: log evidence MAP − truth = %.2f (χ²_ν %.4f vs %.4f)\n", j, side, o.GapNoiseFree, g.Gap, g.Chi2MAP, g.Chi2Tru)
		}
	}
	return out, nil
}

// recoverOne simulates and fits lens j.
func (o *LensRecoveryOptions) recoverOne(ctx context.Context, j int, simCfg, fitCfg lens.Config, ckpt string) (LensRecoveryLens, error) {
	start := time.Now()
	gi := j % len(o.Galaxies)
	l := LensRecoveryLens{Index: j, Galaxy: fmt.Sprint(gi)}
	if gi < len(o.Names) {
		l.Galaxy = o.Names[gi]
	}
	truth := RecoveryLens(o.Seed, j)
	init := RecoveryStart(o.Seed, j, truth)
	l.Truth, l.Start = truth, init
	y, sigma, err := o.simulate(j, simCfg)
	if err != nil {
		return l, err
	}
	data := lensfit.Data{Y: y, SigmaN: []float64{sigma}}
	ev, err := lensfit.NewEvidence(fitCfg, data, o.Prior)
	if err != nil {
		return l, err
	}
	half := 0.5 * float64(fitCfg.Obs.N) * fitCfg.Obs.Scale
	obj, err := lensfit.NewObjective(ev, lens.DefaultPriors(half), init, true, 0)
	if err != nil {
		return l, err
	}
	fo := o.Fit
	fo.Seed = seedFor(o.Seed, 20, uint64(j))
	fo.Checkpoint, fo.Progress = ckpt, o.Progress
	fo.Fingerprint = fmt.Sprintf("lens-recovery lens %d seed %d starts %d max-evals %d walkers %d steps %d burn %d samples %d rhat %g ess %g",
		j, o.Seed, fo.Starts, fo.MaxEval, fo.Walkers, fo.Steps, fo.Burn, fo.Samples, fo.RHatTarget, fo.ESSTarget)
	if _, err := os.Stat(ckpt); err == nil {
		fo.Resume = true
	}
	r, err := lensfit.Fit(ctx, obj, fo)
	if err != nil {
		return l, err
	}
	if o.Debias != nil {
		mp, s := obj.Unpack(r.MAP)
		offs, bp, _, err := o.fitOffsets(ctx, j, mp, s, init, y, sigma, simCfg, fitCfg)
		if err != nil {
			return l, err
		}
		if err := lensfit.ApplyOffsets(r, offs); err != nil {
			return l, err
		}
		l.Offsets = bp
	}
	os.Remove(ckpt)
	sum := lensfit.Summarise(obj, r)
	l.Modes = len(r.Modes)
	mp, ms := obj.Unpack(r.MAP)
	l.MAP, l.MAPLog10Scale = mp, &ms
	for k, name := range lens.ParamNames {
		ps := sum.Parameters[name]
		l.Mean[k], l.Std[k] = float64(ps.Mean), float64(ps.Std)
		var v []float64
		for _, st := range r.Chain[r.Burn:] {
			for _, w := range st {
				v = append(v, w[k])
			}
		}
		for qi, q := range []float64{0.025, 0.16, 0.5, 0.84, 0.975} {
			l.Q[qi][k] = lensfit.Quantile(v, q)
		}
	}
	l.Stats = map[string]any{"evaluations": r.Evaluations, "max_rhat": sum.MaxRHat, "min_ess": sum.MinESS, "acceptance": r.Acceptance,
		"acceptance_independence": sum.AcceptIndep, "acceptance_random_walk": sum.AcceptRW, "sampler_stop": r.Stop,
		"steps": len(r.Chain), "laplace_full_hessian": r.LaplaceFull, "proposal_adapted": r.Adapted,
		"log_evidence_map": sum.LogEvidenceMAP, "modes": sum.Modes, "starts": r.Starts}
	l.Failed = failedFit(mp, truth, l.Mean, l.Std)
	// Source errors on the fit grid.
	tsrc := RebinField(o.Galaxies[gi], o.Side, o.SrcScale, o.FitSide, o.FitScale)
	_, scale := obj.Unpack(r.MAP)
	src := make([]float64, len(tsrc))
	if _, err := ev.LogEvidence(truth.Mass(), scale*math.Ln10, nil); err != nil {
		return l, err
	}
	if err := ev.PosteriorMean(src, nil); err != nil {
		return l, err
	}
	l.SourceRMSETrue = rmse(src, tsrc)
	avg := make([]float64, len(tsrc))
	nd := min(o.SourceDraws, len(r.Samples))
	for d := 0; d < nd; d++ {
		p, s := obj.Unpack(r.Samples[d*len(r.Samples)/nd])
		if _, err := ev.LogEvidence(p.Mass(), s*math.Ln10, nil); err != nil {
			return l, err
		}
		if err := ev.PosteriorMean(src, nil); err != nil {
			return l, err
		}
		for i, v := range src {
			avg[i] += v / float64(nd)
		}
	}
	l.SourceRMSEMarg = rmse(avg, tsrc)
	l.WallSeconds = time.Since(start).Seconds()
	return l, nil
}

// fitOffsets computes the source-model offsets of lens j (observation y,
// noise σ) at the fitted MAP mp with source amplitude log10 s, as a full
// fit with o.Debias does: the sources of debiasSources, observed through mp
// on the simulation's grid, refitted from (mp, s) with the fit's evidence
// set-up (fit grid, Gaussian prior, default priors, start init for the
// fixed parameters, amplitude free). It returns the offsets in the
// objective's parameters (for lensfit.ApplyOffsets), the same in
// lens.ParamNames order, and the evaluations.
func (o *LensRecoveryOptions) fitOffsets(ctx context.Context, j int, mp lens.Params, s float64, init lens.Params, y []float64, sigma float64,
	simCfg, fitCfg lens.Config) (offs [][]float64, bp [][7]float64, evals int, err error) {
	srcs, err := o.debiasSources(ctx, j, mp, y, sigma, simCfg)
	if err != nil {
		return nil, nil, 0, err
	}
	op, err := lens.NewOperator(mp.Mass(), simCfg)
	if err != nil {
		return nil, nil, 0, err
	}
	half := 0.5 * float64(fitCfg.Obs.N) * fitCfg.Obs.Scale
	refit := func(y []float64) (*lensfit.Objective, error) {
		ev, err := lensfit.NewEvidence(fitCfg, lensfit.Data{Y: y, SigmaN: []float64{sigma}}, o.Prior)
		if err != nil {
			return nil, err
		}
		return lensfit.NewObjective(ev, lens.DefaultPriors(half), init, true, s)
	}
	obj, err := refit(y)
	if err != nil {
		return nil, nil, 0, err
	}
	offs, evals, err = lensfit.SourceOffsets(ctx, refit, obj.Pack(mp, s), op, srcs)
	if err != nil {
		return nil, nil, evals, err
	}
	for _, b := range offs {
		var p [7]float64
		for i, name := range obj.Names() {
			if k := slices.Index(lens.ParamNames[:], name); k >= 0 {
				p[k] = b[i]
			}
		}
		bp = append(bp, p)
	}
	return offs, bp, evals, nil
}

// failedFit is the wrong-mode rule: the MAP θ_E off by more than 5 %, or
// the truth more than 5 posterior standard deviations from the mean in
// some parameter.
func failedFit(mp, truth lens.Params, mean, std [7]float64) bool {
	if math.Abs(mp[lens.PThetaE]/truth[lens.PThetaE]-1) > 0.05 {
		return true
	}
	for k := range truth {
		if math.Abs(mean[k]-truth[k]) > 5*std[k] {
			return true
		}
	}
	return false
}

// summarise fills the per-parameter table.
func (r *LensRecoveryResult) summarise() {
	r.Params, r.Failures = nil, 0
	var walls, st, sm []float64
	for _, l := range r.Lenses {
		if l.Failed {
			r.Failures++
		}
		walls = append(walls, l.WallSeconds)
		st, sm = append(st, l.SourceRMSETrue), append(sm, l.SourceRMSEMarg)
	}
	if len(walls) > 0 {
		sort.Float64s(walls)
		r.MedianWall = walls[len(walls)/2]
		r.SourceRMSETrue, r.SourceRMSEMarg = meanOf(st), meanOf(sm)
	}
	for k, name := range lens.ParamNames {
		p := LensRecoveryParam{Name: name}
		var z, e, rel []float64
		for _, l := range r.Lenses {
			if l.Failed { // counted in Failures, not in the statistics
				continue
			}
			d := l.Mean[k] - l.Truth[k]
			e = append(e, d)
			z = append(z, d/l.Std[k])
			if k == lens.PThetaE {
				rel = append(rel, d/l.Truth[k])
			}
			if l.Truth[k] >= l.Q[1][k] && l.Truth[k] <= l.Q[3][k] {
				p.Cover68++
			}
			if l.Truth[k] >= l.Q[0][k] && l.Truth[k] <= l.Q[4][k] {
				p.Cover95++
			}
			if math.Abs(d/l.Std[k]) > 3 {
				p.Outliers++
			}
		}
		n := float64(len(e))
		if n == 0 {
			nan := math.NaN()
			p.Bias, p.BiasZ, p.StdZ, p.RMS, p.Cover68, p.Cover95 = nan, nan, nan, nan, nan, nan
			r.Params = append(r.Params, p)
			continue
		}
		p.Cover68 /= n
		p.Cover95 /= n
		p.setErrors(e, z)
		if rel != nil {
			var r2 float64
			for _, v := range rel {
				r2 += v * v
			}
			p.RelRMS = math.Sqrt(r2 / n)
		}
		r.Params = append(r.Params, p)
	}
}

// configs returns the simulation's and the fit's operator set-ups: the
// observation grid and Gaussian PSF they share, and their source grids.
func (o *LensRecoveryOptions) configs() (simCfg, fitCfg lens.Config, err error) {
	psf, err := lens.GaussianPSF(o.PSFFWHM, o.PixScale, 0)
	if err != nil {
		return simCfg, fitCfg, err
	}
	simCfg = lens.Config{Obs: lens.Grid{N: o.NPix, Scale: o.PixScale}, Src: lens.Grid{N: o.Side, Scale: o.SrcScale}, PSF: psf}
	fitCfg = lens.Config{Obs: simCfg.Obs, Src: lens.Grid{N: o.FitSide, Scale: o.FitScale}, PSF: psf}
	return simCfg, fitCfg, nil
}

// setErrors sets the bias, the bias in σ, the RMS error and the standard
// deviation of z from the errors e = estimate − truth and z = e/σ (len > 0).
func (p *LensRecoveryParam) setErrors(e, z []float64) {
	n := float64(len(e))
	p.Bias, p.BiasZ = meanOf(e), meanOf(z)
	var s2, z2 float64
	for i := range e {
		s2 += e[i] * e[i]
		z2 += (z[i] - p.BiasZ) * (z[i] - p.BiasZ)
	}
	p.RMS = math.Sqrt(s2 / n)
	if n > 1 {
		p.StdZ = math.Sqrt(z2 / (n - 1))
	}
}

// figures writes the z quantile plot and θ_E recovered against the truth.
func (r *LensRecoveryResult) figures(dir string) error {
	n := len(r.Lenses)
	if n < 2 {
		return nil
	}
	var series []plot.Series
	for k, name := range lens.ParamNames {
		var z []float64
		for _, l := range r.Lenses {
			if !l.Failed {
				z = append(z, (l.Mean[k]-l.Truth[k])/l.Std[k])
			}
		}
		if len(z) < 2 {
			continue
		}
		sort.Float64s(z)
		q := make([]float64, len(z))
		for i := range q {
			q[i] = math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/float64(len(z))-1)
		}
		series = append(series, plot.Series{Label: name, X: q, Y: z})
	}
	series = append(series, plot.Series{Label: "calibrated", X: []float64{-3, 3}, Y: []float64{-3, 3}, Dashed: true, Color: color.Gray{Y: 0x60}})
	if len(series) > 1 {
		if err := plot.CurveWith(filepath.Join(dir, "lens_recovery_z.png"), fmt.Sprintf("z = (posterior mean − truth)/σ over the %d lenses that did not fail", n-r.Failures),
			"standard normal quantile", "sorted z", plot.CurveOptions{LegendLeft: true}, series...); err != nil {
			return err
		}
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return r.Lenses[idx[a]].Truth[0] < r.Lenses[idx[b]].Truth[0] })
	var x, y, lo, hi []float64
	for _, i := range idx {
		l := r.Lenses[i]
		x = append(x, l.Truth[0])
		y = append(y, l.Mean[0]/l.Truth[0]-1)
		lo, hi = append(lo, l.Q[1][0]/l.Truth[0]-1), append(hi, l.Q[3][0]/l.Truth[0]-1)
	}
	return plot.Curve(filepath.Join(dir, "lens_recovery_thetae.png"), "Einstein radius: relative error of the posterior mean (band: 16–84 %)",
		"true θ_E [arcsec]", "θ_E / truth − 1",
		plot.Series{Label: "posterior", X: x, Y: y, Lo: lo, Hi: hi},
		plot.Series{Label: "zero", X: []float64{x[0], x[n-1]}, Y: []float64{0, 0}, Dashed: true})
}

// writeLensPart writes lens j's record l to its part file atomically, so that an
// interrupted run resumes from whole parts only.
func writeLensPart(part string, j int, l any) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("experiment: lens %d: %w", j, err)
	}
	return weights.WriteFileAtomic(part, b)
}
