package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/progress"
)

// QuantileLevels are the levels of LensRecoveryLens.Q.
var QuantileLevels = [5]float64{0.025, 0.16, 0.5, 0.84, 0.975}

// LensMarginals are the stored summaries of a lens's posterior draws: per
// parameter (lens.ParamNames order) the mean, the standard deviation and
// the quantiles at QuantileLevels.
type LensMarginals struct {
	Mean   [7]float64    `json:"mean"`
	Std    [7]float64    `json:"std"`
	Q      [5][7]float64 `json:"quantiles"`
	Failed bool          `json:"failed"`
}

// LensCorrection records how a corrected part was made from a plain one
// (LensRecoveryCorrect).
type LensCorrection struct {
	From        string  `json:"from"`               // the plain part
	Log10Scale  float64 `json:"log10_source_scale"` // the MAP's source amplitude, from the fit's best mode
	Evaluations int     `json:"evaluations"`        // evidence evaluations of the refits
	CPUSeconds  float64 `json:"cpu_seconds,omitempty"`
	WallSeconds float64 `json:"wall_seconds"`
}

// ShiftMixture returns the marginal summaries of draws x_i − b_(i mod K)
// from the summaries of the draws x_i of one parameter: their mean m,
// standard deviation sd and quantiles q at QuantileLevels. This is what
// lensfit.ApplyOffsets does to the draws of a fit, for stored summaries
// instead of draws:
//
//   - mean: m − b̄ (exact when the number of draws is a multiple of K, as
//     the kept draws of 8 chains are for K = 1, 2, 4, 8);
//   - standard deviation: √(sd² + (1/K) Σ (b_k − b̄)²) (exact up to the
//     covariance between the draws' subset means and the b_k, zero when
//     the K subsets of draws have one distribution);
//   - quantiles: of the mixture (1/K) Σ_k F(x + b_k), F the draws' marginal
//     CDF, with F modelled from the stored quantiles: the quantile function
//     linear in the normal score u = Φ⁻¹(p) between the five stored ones
//     (exact for a Gaussian marginal) and continued linearly in u beyond
//     the outer two. The subsets of draws are again taken to share F; the
//     draws of a chain keep one offset (draw i is chain i mod 8 of a
//     step), so chains that have not mixed break this.
func ShiftMixture(m, sd float64, q [5]float64, b []float64) (float64, float64, [5]float64) {
	K := float64(len(b))
	var bm, bv float64
	for _, v := range b {
		bm += v / K
	}
	for _, v := range b {
		bv += (v - bm) * (v - bm) / K
	}
	var out [5]float64
	for i, p := range QuantileLevels {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range b { // the mixture's quantile lies between its components'
			lo, hi = math.Min(lo, q[i]-v), math.Max(hi, q[i]-v)
		}
		for it := 0; it < 200 && hi-lo > 1e-15*(math.Abs(lo)+math.Abs(hi)); it++ {
			mid := 0.5 * (lo + hi)
			var c float64
			for _, v := range b {
				c += scoreCDF(q, mid+v) / K
			}
			if c < p {
				lo = mid
			} else {
				hi = mid
			}
		}
		out[i] = 0.5 * (lo + hi)
	}
	return m - bm, math.Sqrt(sd*sd + bv), out
}

// scoreCDF is the CDF at x of the marginal whose quantile function is
// linear in the normal score between the quantiles q at QuantileLevels
// and continued linearly beyond them (ShiftMixture).
func scoreCDF(q [5]float64, x float64) float64 {
	var u [5]float64
	for i, p := range QuantileLevels {
		u[i] = math.Sqrt2 * math.Erfinv(2*p-1)
	}
	// The segment of x: the first whose upper end is ≥ x, the last one
	// beyond the top; the bottom one below the bottom.
	i := 0
	for i < 3 && x > q[i+1] {
		i++
	}
	var s float64
	switch {
	case q[i+1] > q[i]:
		s = u[i] + (x-q[i])/(q[i+1]-q[i])*(u[i+1]-u[i])
	case x < q[i]:
		s = math.Inf(-1)
	case x > q[i+1]:
		s = math.Inf(1)
	default:
		s = u[i+1]
	}
	return 0.5 * math.Erfc(-s/math.Sqrt2)
}

// correctedMarginals applies ShiftMixture to every parameter of m with
// the offsets bp (lens.ParamNames order).
func correctedMarginals(m LensMarginals, bp [][7]float64) LensMarginals {
	var c LensMarginals
	b := make([]float64, len(bp))
	for k := range lens.ParamNames {
		var q [5]float64
		for i := range q {
			q[i] = m.Q[i][k]
		}
		for i, v := range bp {
			b[i] = v[k]
		}
		var cq [5]float64
		c.Mean[k], c.Std[k], cq = ShiftMixture(m.Mean[k], m.Std[k], q, b)
		for i := range cq {
			c.Q[i][k] = cq[i]
		}
	}
	return c
}

// LensRecoveryCorrect applies the source-model offset correction (o.Debias,
// required) to the finished full fits of a plain LensRecovery run in
// from/LensRecoveryParts without fitting again, and writes the corrected
// run to dir (never from or a folder inside it). For each lens it
// regenerates the simulated observation (refusing a part whose truth,
// start or galaxy differ from the regenerated ones), computes the offsets
// at the part's MAP with the set-up of a corrected full fit (the same
// sources, refits and seeds: LensRecovery with o.Debias computes the same
// offsets from the same MAP), and corrects the stored summaries as
// ShiftMixture states; the wrong-mode rule is applied again to the
// corrected mean and width. The parts keep the plain summaries
// (Uncorrected); SourceRMSEMarg stays the plain draws' (the parts hold no
// draws). Finished lenses are stored in dir/LensRecoveryParts and reused
// with o.Resume; o.Shard/o.Shards split the lenses as in LensRecovery. cpu,
// if not nil, reads the process CPU time in seconds.
func LensRecoveryCorrect(ctx context.Context, o LensRecoveryOptions, from, dir string, cpu func() float64) (*LensRecoveryResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if o.Debias == nil {
		return nil, errors.New("experiment: lens recovery correction: no correction given (Debias)")
	}
	if err := o.Debias.check(); err != nil {
		return nil, err
	}
	if o.Shape != "" || o.NoiseSeed != 0 {
		return nil, errors.New("experiment: lens recovery correction: a fitted prior shape and another noise realisation are measured by LensRecoveryProbe only")
	}
	if err := CheckCorrectionDirs(from, dir); err != nil {
		return nil, err
	}
	inParts := filepath.Join(from, LensRecoveryParts)
	simCfg, fitCfg, err := o.configs()
	if err != nil {
		return nil, err
	}
	settings := map[string]any{"lenses": o.Lenses, "source_side": o.Side, "source_pixel_scale": o.SrcScale,
		"npix": o.NPix, "pixel_scale": o.PixScale, "psf_fwhm": o.PSFFWHM, "noise_fraction": o.Noise, "fit_source_side": o.FitSide,
		"fit_source_pixel_scale": fitCfg.Src.Scale, "seed": o.Seed}
	if err := checkRecoverySettings(filepath.Join(from, "lens_recovery.json"), settings); err != nil {
		return nil, err
	}
	d := o.Debias
	settings["debias"] = map[string]any{"source": d.Source, "k": d.K, "sampler": d.Sampler, "steps": d.Steps, "jacobian_below": d.JacobianBelow}
	settings["corrected_from"] = from
	settings["marginals"] = "mean − b̄; std √(std² + var_k b_k); quantiles of the mixture over k of the stored marginal shifted by −b_k, " +
		"its quantile function linear in the normal score between the stored 2.5/16/50/84/97.5 % quantiles (experiment.ShiftMixture); " +
		"source_rmse_marginalised is the uncorrected draws'"
	parts := filepath.Join(dir, LensRecoveryParts)
	if err := os.MkdirAll(parts, 0o755); err != nil {
		return nil, err
	}
	res := &LensRecoveryResult{Settings: settings}
	t0, done, todo := time.Now(), 0, 0
	for j := 0; j < o.Lenses; j++ {
		if o.Shards <= 1 || j%o.Shards == o.Shard {
			todo++
		}
	}
	for j := 0; j < o.Lenses; j++ {
		name := fmt.Sprintf("lens-%03d.json", j)
		part := filepath.Join(parts, name)
		if o.Resume {
			if b, err := os.ReadFile(part); err == nil {
				var l LensRecoveryLens
				if err := json.Unmarshal(b, &l); err != nil {
					return nil, fmt.Errorf("experiment: %s: %w", part, err)
				}
				if l.Correction == nil || l.Uncorrected == nil || len(l.Offsets) != d.K {
					return nil, fmt.Errorf("experiment: %s is not a correction with %d sources; use another output folder", part, d.K)
				}
				// The summaries are made again from the stored plain ones
				// and offsets (cheap; the same unless ShiftMixture changed).
				c := correctedMarginals(*l.Uncorrected, l.Offsets)
				l.Mean, l.Std, l.Q = c.Mean, c.Std, c.Q
				l.Failed = failedFit(l.MAP, l.Truth, l.Mean, l.Std)
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
		l, err := o.correctOne(ctx, j, filepath.Join(inParts, name), simCfg, fitCfg, cpu)
		if err != nil {
			return nil, err
		}
		if err := writeLensPart(part, j, l); err != nil {
			return nil, err
		}
		res.Lenses = append(res.Lenses, l)
		done++
		if o.Progress != nil {
			eta := time.Duration(float64(time.Since(t0)) / float64(done) * float64(todo-done))
			zp := (l.Uncorrected.Mean[0] - l.Truth[0]) / l.Uncorrected.Std[0]
			zc := (l.Mean[0] - l.Truth[0]) / l.Std[0]
			fmt.Fprintf(o.Progress, "experiment: lens-recovery correction lens %d (%d/%d): θ_E z %+.2f → %+.2f, RMS z %.2f → %.2f, failed %v → %v, %d evaluations, %.0f CPU-s, %.0f s; eta %s\n",
				j, done, todo, zp, zc, rmsZ(l.Uncorrected.Mean, l.Uncorrected.Std, l.Truth), rmsZ(l.Mean, l.Std, l.Truth),
				l.Uncorrected.Failed, l.Failed, l.Correction.Evaluations, l.Correction.CPUSeconds, l.Correction.WallSeconds, progress.FormatDuration(eta))
		}
	}
	res.summarise()
	plain := &LensRecoveryResult{}
	for _, l := range res.Lenses {
		if l.Uncorrected != nil {
			u := l
			u.Mean, u.Std, u.Q, u.Failed = l.Uncorrected.Mean, l.Uncorrected.Std, l.Uncorrected.Q, l.Uncorrected.Failed
			plain.Lenses = append(plain.Lenses, u)
		}
	}
	plain.summarise()
	res.ParamsUncorrected, res.FailuresUncorrected = plain.Params, plain.Failures
	res.Pooled, res.PooledUncorrected = pooledZ(res.Lenses), pooledZ(plain.Lenses)
	if o.Shards > 1 {
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

// CheckCorrectionDirs checks the folders of LensRecoveryCorrect: from
// must hold a folder of finished lenses, and dir must be neither from nor
// inside it.
func CheckCorrectionDirs(from, dir string) error {
	inParts := filepath.Join(from, LensRecoveryParts)
	if st, err := os.Stat(inParts); err != nil || !st.IsDir() {
		return fmt.Errorf("experiment: lens recovery correction: %s is not a folder of finished lenses", inParts)
	}
	af, err := filepath.Abs(from)
	if err != nil {
		return err
	}
	ad, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if ad == af || strings.HasPrefix(ad, af+string(filepath.Separator)) {
		return fmt.Errorf("experiment: lens recovery correction: the output %s is the input %s or inside it; write elsewhere", dir, from)
	}
	if st, err := os.Stat(dir); err == nil {
		if sf, err := os.Stat(from); err == nil && os.SameFile(st, sf) {
			return fmt.Errorf("experiment: lens recovery correction: the output %s is the input %s", dir, from)
		}
	}
	return nil
}

// correctOne corrects the plain part of lens j.
func (o *LensRecoveryOptions) correctOne(ctx context.Context, j int, in string, simCfg, fitCfg lens.Config, cpu func() float64) (LensRecoveryLens, error) {
	t0, c0 := time.Now(), 0.0
	if cpu != nil {
		c0 = cpu()
	}
	var l LensRecoveryLens
	b, err := os.ReadFile(in)
	if err != nil {
		return l, fmt.Errorf("experiment: lens recovery correction: %w", err)
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("experiment: %s: %w", in, err)
	}
	truth := RecoveryLens(o.Seed, j)
	gi := j % len(o.Galaxies)
	galaxy := fmt.Sprint(gi)
	if gi < len(o.Names) {
		galaxy = o.Names[gi]
	}
	switch {
	case len(l.Offsets) > 0 || l.Correction != nil:
		return l, fmt.Errorf("experiment: %s is already corrected for the source-model offset", in)
	case l.Index != j:
		return l, fmt.Errorf("experiment: %s holds lens %d, not %d", in, l.Index, j)
	case l.Truth != [7]float64(truth):
		return l, fmt.Errorf("experiment: %s: its true lens %v is not the regenerated one %v (another seed or simulation set-up)", in, l.Truth, truth)
	case l.Start != [7]float64(RecoveryStart(o.Seed, j, truth)):
		return l, fmt.Errorf("experiment: %s: its start %v is not the regenerated one", in, l.Start)
	case l.Galaxy != galaxy:
		return l, fmt.Errorf("experiment: %s: its source galaxy %q is not the regenerated one %q (another galaxy set)", in, l.Galaxy, galaxy)
	}
	s, err := mapScale(l)
	if err != nil {
		return l, fmt.Errorf("experiment: %s: %w", in, err)
	}
	y, sigma, err := o.simulate(j, simCfg)
	if err != nil {
		return l, err
	}
	_, bp, evals, err := o.fitOffsets(ctx, j, l.MAP, s, l.Start, y, sigma, simCfg, fitCfg)
	if err != nil {
		return l, fmt.Errorf("experiment: lens %d: %w", j, err)
	}
	plain := LensMarginals{Mean: l.Mean, Std: l.Std, Q: l.Q, Failed: l.Failed}
	c := correctedMarginals(plain, bp)
	l.Uncorrected, l.Offsets = &plain, bp
	l.Mean, l.Std, l.Q = c.Mean, c.Std, c.Q
	l.Failed = failedFit(l.MAP, truth, l.Mean, l.Std)
	l.Correction = &LensCorrection{From: in, Log10Scale: s, Evaluations: evals, WallSeconds: time.Since(t0).Seconds()}
	if cpu != nil {
		l.Correction.CPUSeconds = cpu() - c0
	}
	return l, nil
}

// mapScale returns the source amplitude (log10) at the part's MAP: the
// stored one, or in older parts that of the recorded mode whose lens is
// the MAP.
func mapScale(l LensRecoveryLens) (float64, error) {
	if l.MAPLog10Scale != nil {
		return *l.MAPLog10Scale, nil
	}
	b, err := json.Marshal(l.Stats["modes"])
	if err != nil {
		return 0, err
	}
	var modes []struct {
		Params map[string]float64 `json:"parameters"`
	}
	if err := json.Unmarshal(b, &modes); err != nil {
		return 0, fmt.Errorf("its fit record's modes: %w", err)
	}
	for _, m := range modes {
		same := true
		for k, name := range lens.ParamNames {
			same = same && m.Params[name] == l.MAP[k]
		}
		if s, ok := m.Params[lensfit.ScaleName]; same && ok {
			return s, nil
		}
	}
	return 0, errors.New("its MAP is none of the recorded modes (a chain state?), so its source amplitude is not stored")
}

// checkRecoverySettings compares the settings of the run in path (if it
// exists) with want, key by key.
func checkRecoverySettings(path string, want map[string]any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var r struct {
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("experiment: %s: %w", path, err)
	}
	if _, ok := r.Settings["debias"]; ok {
		return fmt.Errorf("experiment: %s is a corrected run; correct a plain one", path)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "lenses" {
			continue // a run may be corrected in part
		}
		got, ok := r.Settings[k].(float64)
		w, _ := json.Marshal(want[k])
		var wf float64
		json.Unmarshal(w, &wf)
		if !ok || got != wf {
			return fmt.Errorf("experiment: %s: setting %s is %v, this run's %v", path, k, r.Settings[k], want[k])
		}
	}
	return nil
}

// rmsZ is the RMS over the parameters of (mean − truth)/std.
func rmsZ(mean, std, truth [7]float64) float64 {
	var s float64
	for k := range mean {
		z := (mean[k] - truth[k]) / std[k]
		s += z * z
	}
	return math.Sqrt(s / 7)
}

// PooledZ pools z = (mean − truth)/std and the interval coverage over all
// parameters of all lenses, failures included.
type PooledZ struct {
	N       int     `json:"values"`
	RMSZ    float64 `json:"rms_z"`
	Cover68 float64 `json:"coverage_68"`
	Cover95 float64 `json:"coverage_95"`
	// AbsZ1 and AbsZ196 are the fractions with |z| ≤ 1 and ≤ 1.96 (the
	// Gaussian intervals of the probe).
	AbsZ1   float64 `json:"abs_z_le_1"`
	AbsZ196 float64 `json:"abs_z_le_1_96"`
	Above5  int     `json:"lenses_abs_z_above_5"`
}

func pooledZ(lenses []LensRecoveryLens) *PooledZ {
	p := &PooledZ{}
	var s float64
	for _, l := range lenses {
		big := false
		for k := range l.Truth {
			z := (l.Mean[k] - l.Truth[k]) / l.Std[k]
			s += z * z
			p.N++
			if math.Abs(z) <= 1 {
				p.AbsZ1++
			}
			if math.Abs(z) <= 1.96 {
				p.AbsZ196++
			}
			if l.Truth[k] >= l.Q[1][k] && l.Truth[k] <= l.Q[3][k] {
				p.Cover68++
			}
			if l.Truth[k] >= l.Q[0][k] && l.Truth[k] <= l.Q[4][k] {
				p.Cover95++
			}
			big = big || math.Abs(z) > 5
		}
		if big {
			p.Above5++
		}
	}
	if p.N == 0 {
		return nil
	}
	n := float64(p.N)
	p.RMSZ, p.Cover68, p.Cover95, p.AbsZ1, p.AbsZ196 = math.Sqrt(s/n), p.Cover68/n, p.Cover95/n, p.AbsZ1/n, p.AbsZ196/n
	return p
}
