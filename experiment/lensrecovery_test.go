package experiment

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/posterior"
)

func TestRecoveryLensRanges(t *testing.T) {
	for j := 0; j < 500; j++ {
		p := RecoveryLens(3, j)
		q, _ := lens.QPhiFromEllipticity(p[lens.PE1], p[lens.PE2])
		if p[0] < 0.8 || p[0] > 1.6 || q < 0.5-1e-12 || q > 1 || math.Hypot(p[lens.PGamma1], p[lens.PGamma2]) > 0.1 ||
			math.Abs(p[lens.PCenterX]) > 0.1 || math.Abs(p[lens.PCenterY]) > 0.1 {
			t.Fatalf("lens %d out of range: %v (q %g)", j, p, q)
		}
		s := RecoveryStart(3, j, p)
		if r := s[0] / p[0]; r < 0.85 || r > 1.15 || s[1] != 0 || s[5] != 0 || s[3] != 0 {
			t.Fatalf("start %d: %v for truth %v", j, s, p)
		}
	}
	if RecoveryLens(3, 7) != RecoveryLens(3, 7) || RecoveryLens(3, 7) == RecoveryLens(4, 7) {
		t.Error("lenses are not a function of (seed, index)")
	}
}

// TestLensRecoverySmall runs the experiment on two tiny lenses, checks the
// table against the per-lens numbers and that --resume reuses them.
func TestLensRecoverySmall(t *testing.T) {
	side := 16
	var gals [][]float64
	for _, s := range []lens.Sersic{{Amp: 1, RSersic: 0.12, NSersic: 1, Q: 0.7, Phi: 0.3, CenterX: 0.03},
		{Amp: 1, RSersic: 0.1, NSersic: 2, Q: 0.9, Phi: 1, CenterY: -0.03}} {
		gals = append(gals, toyGalaxy(s, side))
	}
	prior, err := posterior.NewIsoGaussian(make([]float64, 64), 0.3, func(float64) float64 { return 1 })
	if err != nil {
		t.Fatal(err)
	}
	o := LensRecoveryOptions{Galaxies: gals, Side: side, SrcScale: 0.15, NPix: 24, PixScale: 0.16, FitSide: 8, Prior: prior, Lenses: 2,
		Fit: lensfit.FitOptions{Starts: 1, MaxEval: 150, Walkers: 16, Steps: 10, Burn: 4, Samples: 8}, SourceDraws: 2, Seed: 1}
	dir := t.TempDir()
	r, err := LensRecovery(context.Background(), o, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lenses) != 2 || len(r.Params) != 7 {
		t.Fatalf("%d lenses, %d parameters", len(r.Lenses), len(r.Params))
	}
	p := r.Params[0]
	var bias, n float64
	for _, l := range r.Lenses {
		if !l.Failed {
			bias += l.Mean[0] - l.Truth[0]
			n++
		}
	}
	bias /= n
	if n == 0 {
		if !math.IsNaN(p.Bias) || r.Failures != 2 {
			t.Errorf("all lenses failed but θ_E row %+v, failures %d", p, r.Failures)
		}
	} else if math.Abs(p.Bias-bias) > 1e-15 || p.Cover68 < 0 || p.Cover68 > 1 || p.Cover95 < p.Cover68 {
		t.Errorf("θ_E row %+v, bias by hand over %g lenses %g", p, n, bias)
	}
	for _, l := range r.Lenses {
		if !(l.Std[0] > 0) || !(l.Q[1][0] <= l.Q[2][0] && l.Q[2][0] <= l.Q[3][0]) || !(l.SourceRMSETrue > 0) {
			t.Errorf("lens %d: %+v", l.Index, l)
		}
	}
	figs := []string{"lens_recovery.json", "lens_recovery_thetae.png"}
	if r.Failures == 0 {
		figs = append(figs, "lens_recovery_z.png")
	}
	for _, f := range figs {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	o.Resume = true
	r2, err := LensRecovery(context.Background(), o, dir)
	if err != nil {
		t.Fatal(err)
	}
	same := r2.Failures == r.Failures && len(r2.Lenses) == len(r.Lenses)
	for i := range r.Lenses {
		same = same && r2.Lenses[i].WallSeconds == r.Lenses[i].WallSeconds && r2.Lenses[i].Mean == r.Lenses[i].Mean && r2.Lenses[i].Q == r.Lenses[i].Q
	}
	if !same {
		t.Error("resumed run did not reuse the stored lenses")
	}
	// With the correction (true source, K = 1) the same fits' draws move by
	// exactly −b: the means by −b, the widths unchanged; and the parts of
	// the plain run are refused.
	od := o
	od.Debias = &Debias{Source: "truth"}
	if _, err := LensRecovery(context.Background(), od, dir); err == nil || !strings.Contains(err.Error(), "without the source-model offset correction") {
		t.Errorf("a corrected run over the plain run's parts: %v", err)
	}
	od.Resume = false
	rd, err := LensRecovery(context.Background(), od, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range rd.Lenses {
		if len(l.Offsets) != 1 || l.MAP != r.Lenses[i].MAP {
			t.Fatalf("lens %d: %d offsets, MAP %v (plain %v)", i, len(l.Offsets), l.MAP, r.Lenses[i].MAP)
		}
		for k := range l.Mean {
			b, m0 := l.Offsets[0][k], r.Lenses[i].Mean[k]
			if math.Abs(l.Mean[k]-(m0-b)) > 1e-12*(1+math.Abs(m0)) || math.Abs(l.Std[k]-r.Lenses[i].Std[k]) > 1e-12*(1+l.Std[k]) {
				t.Errorf("lens %d parameter %d: mean %g std %g, want %g − %g and std %g", i, k, l.Mean[k], l.Std[k], m0, b, r.Lenses[i].Std[k])
			}
		}
	}
	// The correction of the plain run's parts without refitting
	// (LensRecoveryCorrect) finds the same offsets from the stored MAP and
	// amplitude, and with K = 1 its summaries are the corrected run's; it
	// refuses to write into its input, a corrected input, and parts whose
	// truth is not the regenerated one.
	cdir := t.TempDir()
	rc, err := LensRecoveryCorrect(context.Background(), od, dir, cdir, nil)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*(1+math.Abs(b)) }
	for i, l := range rc.Lenses {
		d := rd.Lenses[i]
		if len(l.Offsets) != 1 || l.Uncorrected == nil || l.Uncorrected.Mean != r.Lenses[i].Mean || l.Uncorrected.Q != r.Lenses[i].Q || l.Failed != d.Failed {
			t.Fatalf("lens %d: %d offsets, uncorrected %+v (plain run %v), failed %v (corrected run %v)", i, len(l.Offsets), l.Uncorrected, r.Lenses[i].Mean, l.Failed, d.Failed)
		}
		for k := range l.Mean {
			ok := near(l.Offsets[0][k], d.Offsets[0][k]) && near(l.Mean[k], d.Mean[k]) && near(l.Std[k], d.Std[k])
			for qi := range l.Q {
				ok = ok && near(l.Q[qi][k], d.Q[qi][k])
			}
			if !ok {
				t.Errorf("lens %d parameter %d: offset %g mean %g std %g quantiles %v; the corrected run's %g %g %g %v", i, k,
					l.Offsets[0][k], l.Mean[k], l.Std[k], l.Q, d.Offsets[0][k], d.Mean[k], d.Std[k], d.Q)
			}
		}
	}
	if rc.ParamsUncorrected == nil || fmt.Sprint(rc.ParamsUncorrected) != fmt.Sprint(r.Params) || fmt.Sprint(rc.Params) != fmt.Sprint(rd.Params) { // NaN rows when both lenses fail
		t.Errorf("tables: uncorrected θ_E %+v (plain %+v), corrected %+v (corrected run %+v)", rc.ParamsUncorrected, r.Params[0], rc.Params[0], rd.Params[0])
	}
	if _, err := LensRecoveryCorrect(context.Background(), od, dir, filepath.Join(dir, "corrected"), nil); err == nil || !strings.Contains(err.Error(), "inside it") {
		t.Errorf("output inside the input: %v", err)
	}
	if _, err := LensRecoveryCorrect(context.Background(), od, cdir, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "corrected run") {
		t.Errorf("a corrected input: %v", err)
	}
	lone := t.TempDir()
	os.MkdirAll(filepath.Join(lone, LensRecoveryParts), 0o755)
	b, err := os.ReadFile(filepath.Join(dir, LensRecoveryParts, "lens-000.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(lone, LensRecoveryParts, "lens-000.json"), b, 0o644)
	os2 := od
	os2.Seed, os2.Lenses = 2, 1
	if _, err := LensRecoveryCorrect(context.Background(), os2, lone, t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "is not the regenerated one") {
		t.Errorf("parts of another seed: %v", err)
	}
	// Evidence gaps on the fit grid: the difference of the two profiled
	// evidences, the MAP's no lower than its evidence at the fitted
	// amplitude (profiling over a can only raise it, up to the search
	// tolerance).
	gaps, err := LensRecoveryGaps(context.Background(), o, dir, 8, prior, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 2 {
		t.Fatalf("%d gaps for 2 lenses", len(gaps))
	}
	for i, g := range gaps {
		stored := r.Lenses[i].Stats["log_evidence_map"].(lensfit.F)
		if g.Gap != g.LogEvMAP-g.LogEvTru || g.LogEvMAP < float64(stored)-0.05 || !(g.Chi2MAP > 0) {
			t.Errorf("lens %d: gap %+v, stored MAP log evidence %g", i, g, float64(stored))
		}
	}
}

// TestRebin: for a divisor it is the block mean; otherwise the exact area
// average, computed by splitting the fine pixels.
func TestRebin(t *testing.T) {
	n := 12
	x := make([]float64, n*n)
	for i := range x {
		x[i] = math.Sin(float64(i)*0.37) + float64(i%5)
	}
	for _, m := range []int{6, 4, 3} {
		a, b := Rebin(x, n, m), Downsample(x, n, n/m)
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-13 {
				t.Fatalf("m %d: Rebin %g, block mean %g at %d", m, a[i], b[i], i)
			}
		}
	}
	for _, m := range []int{9, 5, 16} {
		// Reference: each fine pixel split into m×m equal parts, then n×n
		// block means (exact area averages of the piecewise-constant image).
		up := make([]float64, n*m*n*m)
		for r := 0; r < n*m; r++ {
			for c := 0; c < n*m; c++ {
				up[r*n*m+c] = x[(r/m)*n+c/m]
			}
		}
		want, got := Downsample(up, n*m, n), Rebin(x, n, m)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("m %d: pixel %d: %g, want %g", m, i, got[i], want[i])
			}
		}
	}
}

// TestLensRecoveryProbeSmall: the probe of a tiny lens stores z =
// (MAP − truth)/σ, tables it as by hand (Gaussian coverage), reuses the
// stored lens on a rerun, and fits other (noise-free) data with the same
// σ_n when asked.
func TestLensRecoveryProbeSmall(t *testing.T) {
	o := probeToy(t)
	dir := t.TempDir()
	r, err := LensRecoveryProbe(context.Background(), o, []int{1}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Lenses) != 1 || r.Lenses[0].Index != 1 || len(r.Params) != 7 {
		t.Fatalf("%d lenses, %d parameters", len(r.Lenses), len(r.Params))
	}
	l := r.Lenses[0]
	for k := range l.Z {
		if math.Abs(l.Z[k]-(l.MAP[k]-l.Truth[k])/l.SD[k]) > 1e-12 || !(l.SD[k] > 0) {
			t.Errorf("parameter %d: z %g, MAP %g, truth %g, sd %g", k, l.Z[k], l.MAP[k], l.Truth[k], l.SD[k])
		}
	}
	if l.Truth != [7]float64(RecoveryLens(1, 1)) {
		t.Errorf("truth %v is not RecoveryLens(1, 1)", l.Truth)
	}
	if maxAbs(l.Z[:]) <= 5 {
		c68 := 0.0
		if math.Abs(l.Z[0]) <= 1 {
			c68 = 1
		}
		if r.Params[0].Bias != l.MAP[0]-l.Truth[0] || r.Params[0].BiasZ != l.Z[0] || r.Params[0].Cover68 != c68 || r.Failures != 0 {
			t.Errorf("θ_E row %+v for lens %+v", r.Params[0], l)
		}
	} else if r.Failures != 1 {
		t.Errorf("max |z| %g but %d failures", maxAbs(l.Z[:]), r.Failures)
	}
	r2, err := LensRecoveryProbe(context.Background(), o, []int{1}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r2.Lenses[0], l) {
		t.Errorf("rerun: lens not reused: %+v vs %+v", r2.Lenses[0], l)
	}
	o.GapNoiseFree = true
	nf, err := LensRecoveryProbe(context.Background(), o, []int{1}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := nf.Lenses[0]; m.MAP == l.MAP || math.Abs(m.SD[0]/l.SD[0]-1) > 0.5 {
		t.Errorf("noise-free probe: MAP %v (noisy %v), σ_θE %g (noisy %g)", m.MAP, l.MAP, m.SD[0], l.SD[0])
	}
}

// TestLensRecoveryProbeDebiasOracle: on noise-free data the probe's MAP is
// the model's own offset b from the truth; the correction with the true
// source refits at the MAP and must bring the estimate back to the truth
// (b evaluated at the MAP instead of the truth differs only to second
// order), and a rerun refuses parts probed without the correction.
func TestLensRecoveryProbeDebiasOracle(t *testing.T) {
	o := probeToy(t)
	o.GapNoiseFree, o.Debias = true, &Debias{Source: "truth"}
	dir := t.TempDir()
	r, err := LensRecoveryProbe(context.Background(), o, []int{1}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := r.Lenses[0]
	if len(l.Offsets) != 1 || r.ParamsDebiased == nil {
		t.Fatalf("%d offsets, debiased table %v", len(l.Offsets), r.ParamsDebiased)
	}
	var before, after float64
	for k := range l.Z {
		before += l.Z[k] * l.Z[k]
		after += l.ZDebiased[k] * l.ZDebiased[k]
		if d := l.MAP[k] - l.Offsets[0][k]; math.Abs(l.MAPDebiased[k]-d) > 1e-15 || l.SDDebiased[k] != l.SD[k] {
			t.Errorf("parameter %d: corrected %g, want MAP − b = %g; σ %g, want %g (one source adds no spread)", k, l.MAPDebiased[k], d, l.SDDebiased[k], l.SD[k])
		}
	}
	t.Logf("noise-free z %+.3f\ncorrected   %+.3f", l.Z, l.ZDebiased)
	if before < 0.25 {
		t.Fatalf("the toy model's own offset is too small to test the correction: Σz² = %g", before)
	}
	if after > 0.1*before {
		t.Errorf("the oracle correction left Σz² = %g of %g", after, before)
	}
	o.Debias = nil
	if _, err := LensRecoveryProbe(context.Background(), o, []int{1}, dir, nil); err == nil || !strings.Contains(err.Error(), "with the source-model offset correction") {
		t.Errorf("a rerun without the correction into the same folder: %v", err)
	}
}

// toyGalaxy renders a Sérsic source on a side² grid of 0.06″ pixels,
// peak-normalised as the validation galaxies are.
func toyGalaxy(s lens.Sersic, side int) []float64 {
	g := lens.Render(s, lens.Grid{N: side, Scale: 0.06}, 2)
	mx := 0.0
	for _, v := range g {
		mx = math.Max(mx, v)
	}
	for i := range g {
		g[i] /= mx
	}
	return g
}

// probeToy is the tiny lens-recovery set-up of the probe tests: one 16²
// Sérsic galaxy, a 24² observation, an 8² isotropic Gaussian prior.
func probeToy(t *testing.T) LensRecoveryOptions {
	t.Helper()
	prior, err := posterior.NewIsoGaussian(make([]float64, 64), 0.3, func(float64) float64 { return 1 })
	if err != nil {
		t.Fatal(err)
	}
	g := toyGalaxy(lens.Sersic{Amp: 1, RSersic: 0.12, NSersic: 1, Q: 0.7, Phi: 0.3, CenterX: 0.03}, 16)
	return LensRecoveryOptions{Galaxies: [][]float64{g}, Side: 16, SrcScale: 0.15, NPix: 24, PixScale: 0.16, FitSide: 8, Prior: prior, Lenses: 2, Seed: 1}
}
