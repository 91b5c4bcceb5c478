package experiment

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
)

// TestScoreCDFGaussian: for a Gaussian's quantiles the model marginal of
// ShiftMixture is that Gaussian, tails included; and the mixture of shifted
// Gaussians has the quantiles found by bisection on Φ directly.
func TestScoreCDFGaussian(t *testing.T) {
	m, s := 1.3, 0.004
	var q [5]float64
	for i, p := range QuantileLevels {
		q[i] = m + s*math.Sqrt2*math.Erfinv(2*p-1)
	}
	phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	for _, z := range []float64{-6, -3, -1.96, -1.2, -0.3, 0, 0.5, 0.994, 2.5, 5} {
		if got, want := scoreCDF(q, m+z*s), phi(z); math.Abs(got-want) > 1e-12 {
			t.Errorf("z %g: CDF %g, want %g", z, got, want)
		}
	}
	b := []float64{1.2 * s, -0.8 * s, 0.3 * s, 0.9 * s}
	gm, gs, gq := ShiftMixture(m, s, q, b)
	for i, p := range QuantileLevels {
		lo, hi := m-10*s, m+10*s
		for it := 0; it < 200; it++ {
			x, c := 0.5*(lo+hi), 0.0
			for _, v := range b {
				c += phi((x+v-m)/s) / 4
			}
			if c < p {
				lo = x
			} else {
				hi = x
			}
		}
		if math.Abs(gq[i]-lo) > 1e-9*s {
			t.Errorf("level %g: mixture quantile %.12g, by bisection on Φ %.12g", p, gq[i], lo)
		}
	}
	if math.Abs(gm-(m-0.4*s)) > 1e-15 || math.Abs(gs-s*math.Sqrt(1+0.585)) > 1e-15 {
		t.Errorf("mean %g std %g, want %g and %g", gm, gs, m-0.4*s, s*math.Sqrt(1.585))
	}
}

// TestShiftMixtureMatchesApplyOffsets: on chains of draws (8 chains,
// non-Gaussian marginals) summarised as a lens-recovery part is, the
// summaries that ShiftMixture makes from the plain summaries and the
// offsets are those of the draws that lensfit.ApplyOffsets shifts, within
// the Monte Carlo and interpolation error; mixtures that are wrong (offsets
// of the other sign, only the mean offset, the offsets' order reversed
// against the chains) miss by several times that error.
func TestShiftMixtureMatchesApplyOffsets(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const walkers, steps, burn = 8, 4040, 40
	draw := func(k int) float64 {
		switch k {
		case 0: // Gaussian
			return 1.2 + 0.001*r.NormFloat64()
		case 1: // skewed: lognormal
			return 0.05 + 0.004*math.Exp(0.5*r.NormFloat64())
		case 2: // heavy-tailed: Student t with 5 degrees of freedom
			var c float64
			for range 5 {
				n := r.NormFloat64()
				c += n * n
			}
			return -0.03 + 0.003*r.NormFloat64()/math.Sqrt(c/5)
		default:
			return 0.01*float64(k) + 0.002*r.NormFloat64()
		}
	}
	res := &lensfit.FitResult{Names: lens.ParamNames[:], Burn: burn}
	for range steps {
		st := make([][]float64, walkers)
		for w := range st {
			st[w] = make([]float64, 7)
			for k := range st[w] {
				st[w][k] = draw(k)
			}
		}
		res.Chain = append(res.Chain, st)
	}
	res.MAP = slices.Clone(res.Chain[0][0])
	summary := func(res *lensfit.FitResult) LensMarginals {
		var m LensMarginals
		for k := range lens.ParamNames {
			var v []float64
			for _, st := range res.Chain[res.Burn:] {
				for _, w := range st {
					v = append(v, w[k])
				}
			}
			m.Mean[k] = meanOf(v)
			var s2 float64
			for _, x := range v {
				s2 += (x - m.Mean[k]) * (x - m.Mean[k])
			}
			m.Std[k] = math.Sqrt(s2 / float64(len(v)-1))
			for i, p := range QuantileLevels {
				m.Q[i][k] = lensfit.Quantile(v, p)
			}
		}
		return m
	}
	plain := summary(res)
	// Offsets of about ±1σ per parameter, different per source.
	fac := []float64{1.2, -0.8, 0.3, 0.9}
	var bp [][7]float64
	offs := make([][]float64, len(fac))
	for i, f := range fac {
		var b [7]float64
		for k := range b {
			b[k] = f * plain.Std[k] * (1 + 0.2*float64(k%3))
		}
		bp = append(bp, b)
		offs[i] = b[:]
	}
	shifted := &lensfit.FitResult{Names: res.Names, Burn: burn, MAP: slices.Clone(res.MAP)}
	for _, st := range res.Chain {
		var c [][]float64
		for _, w := range st {
			c = append(c, slices.Clone(w))
		}
		shifted.Chain = append(shifted.Chain, c)
	}
	if err := lensfit.ApplyOffsets(shifted, offs); err != nil {
		t.Fatal(err)
	}
	want := summary(shifted)
	// worst is the largest quantile error in units of the corrected σ.
	worst := func(got LensMarginals) float64 {
		e := 0.0
		for k := range lens.ParamNames {
			for i := range QuantileLevels {
				e = math.Max(e, math.Abs(got.Q[i][k]-want.Q[i][k])/want.Std[k])
			}
		}
		return e
	}
	got := correctedMarginals(plain, bp)
	for k, name := range lens.ParamNames {
		if d := math.Abs(got.Mean[k] - want.Mean[k]); d > 1e-12*(1+math.Abs(want.Mean[k])) {
			t.Errorf("%s: mean %.15g, the shifted draws' %.15g", name, got.Mean[k], want.Mean[k])
		}
		if d := math.Abs(got.Std[k]/want.Std[k] - 1); d > 0.02 {
			t.Errorf("%s: std %g, the shifted draws' %g", name, got.Std[k], want.Std[k])
		}
	}
	const tol = 0.06
	e := worst(got)
	t.Logf("largest quantile error %.3fσ (tolerance %g)", e, tol)
	if e > tol {
		t.Errorf("quantiles off by up to %.3fσ of the shifted draws'", e)
	}
	// Wrong mixtures.
	neg := make([][7]float64, len(bp))
	mean := make([][7]float64, 1)
	rev := make([][7]float64, len(bp))
	for i, b := range bp {
		rev[len(bp)-1-i] = b
		for k := range b {
			neg[i][k] = -b[k]
			mean[0][k] += b[k] / float64(len(bp))
		}
	}
	for _, w := range []struct {
		name string
		bp   [][7]float64
	}{{"offsets of the other sign", neg}, {"the mean offset only", mean}} {
		e := worst(correctedMarginals(plain, w.bp))
		t.Logf("%s: quantiles off by up to %.3fσ", w.name, e)
		if e < 4*tol {
			t.Errorf("%s: quantiles within %.3fσ, indistinguishable from the right mixture", w.name, e)
		}
	}
	// The mixture does not depend on which chains took which offset when the
	// chains share one distribution: reversing the offsets' order against
	// the chains changes the shifted draws' quantiles by no more than the
	// tolerance either (the check that the tolerance is Monte Carlo error).
	again := &lensfit.FitResult{Names: res.Names, Burn: burn, MAP: slices.Clone(res.MAP)}
	for _, st := range res.Chain {
		var c [][]float64
		for _, w := range st {
			c = append(c, slices.Clone(w))
		}
		again.Chain = append(again.Chain, c)
	}
	ro := make([][]float64, len(rev))
	for i := range rev {
		ro[i] = rev[i][:]
	}
	if err := lensfit.ApplyOffsets(again, ro); err != nil {
		t.Fatal(err)
	}
	if e := worst(summary(again)); e > tol {
		t.Errorf("the draws shifted with the offsets in reverse order differ by %.3fσ: the tolerance is not Monte Carlo error", e)
	}
}

// TestMapScale: the MAP's source amplitude is the stored one, else that of
// the recorded mode (as read back from a part's JSON) whose lens is the
// MAP; a MAP that is no mode is refused.
func TestMapScale(t *testing.T) {
	part := []byte(`{"map": [1.1, 0.01, 0.02, 0.003, 0.004, 0.05, 0.06], "fit": {"modes": [
		{"parameters": {"theta_e": 0.9, "e1": 0.01, "e2": 0.02, "center_x": 0.003, "center_y": 0.004, "gamma1": 0.05, "gamma2": 0.06, "log10_source_scale": -0.5}},
		{"parameters": {"theta_e": 1.1, "e1": 0.01, "e2": 0.02, "center_x": 0.003, "center_y": 0.004, "gamma1": 0.05, "gamma2": 0.06, "log10_source_scale": 0.25}}]}}`)
	var l LensRecoveryLens
	if err := json.Unmarshal(part, &l); err != nil {
		t.Fatal(err)
	}
	if s, err := mapScale(l); err != nil || s != 0.25 {
		t.Errorf("amplitude of the mode that is the MAP: %g, %v; want 0.25", s, err)
	}
	v := -1.5
	l.MAPLog10Scale = &v
	if s, err := mapScale(l); err != nil || s != v {
		t.Errorf("stored amplitude: %g, %v; want %g", s, err, v)
	}
	l.MAPLog10Scale = nil
	l.MAP[2] = 0.021
	if _, err := mapScale(l); err == nil || !strings.Contains(err.Error(), "none of the recorded modes") {
		t.Errorf("a MAP that is no mode: %v", err)
	}
}

// TestRecoveryNoiseSeed: another noise seed keeps the lens, the source and
// σ and draws independent noise (the difference of two realisations has
// standard deviation √2 σ); seed 0 is the standard realisation.
func TestRecoveryNoiseSeed(t *testing.T) {
	o := probeToy(t)
	if err := o.defaults(); err != nil {
		t.Fatal(err)
	}
	simCfg, _, err := o.configs()
	if err != nil {
		t.Fatal(err)
	}
	y0, s0, err := o.simulate(1, simCfg)
	if err != nil {
		t.Fatal(err)
	}
	o.NoiseSeed = 5
	y5, s5, err := o.simulate(1, simCfg)
	if err != nil {
		t.Fatal(err)
	}
	var d2 float64
	for i := range y0 {
		d2 += (y5[i] - y0[i]) * (y5[i] - y0[i])
	}
	sd := math.Sqrt(d2 / float64(len(y0)))
	if s5 != s0 || math.Abs(sd/(math.Sqrt2*s0)-1) > 0.1 {
		t.Errorf("σ %g and %g; the realisations differ by %g, want ≈ √2 σ = %g", s0, s5, sd, math.Sqrt2*s0)
	}
	o.NoiseSeed = 0
	if y, _, _ := o.simulate(1, simCfg); !slices.Equal(y, y0) {
		t.Error("noise seed 0 is not the standard realisation")
	}
}
