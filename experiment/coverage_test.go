package experiment

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/fits"
)

// TestCoverageRanksAndNull runs a small coverage experiment three times on
// the same lenses and samples: randomised ranks with the default null
// distribution, plain ranks, and plain ranks without a null distribution.
// The randomised rank must keep the count of the plain one
// (⌊(K+1) f⌋ = K f_plain), the plain f must be multiples of 1/K, the
// p-value must agree with the position of MaxDev in the null quantiles,
// and coverage.json must carry the null fields (null when disabled).
func TestCoverageRanksAndNull(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	const J, K = 6, 3
	run := func(o CoverageOptions) (*CoverageResult, map[string]any) {
		t.Helper()
		o.Lenses, o.Samples, o.Steps, o.SigmaN, o.Bootstrap = J, K, 5, 0.05, 20
		dir := t.TempDir()
		r, err := Coverage(context.Background(), s, o, dir)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "coverage.json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return r, m
	}
	rnd, mr := run(CoverageOptions{})
	plain, mp := run(CoverageOptions{PlainRanks: true})
	off, mo := run(CoverageOptions{PlainRanks: true, NullDraws: -1})
	t.Logf("randomised: max dev %.3f, null median %.3f, 95%% %.3f, p %.3f; plain: %.3f, %.3f, %.3f, p %.3f",
		rnd.MaxDev, rnd.NullMedian, rnd.Null95, rnd.PValue, plain.MaxDev, plain.NullMedian, plain.Null95, plain.PValue)

	if !rnd.RandomizedRanks || plain.RandomizedRanks || rnd.NullDraws != 2000 {
		t.Errorf("randomized_ranks %v/%v, null draws %d", rnd.RandomizedRanks, plain.RandomizedRanks, rnd.NullDraws)
	}
	if mr["randomized_ranks"] != true || mp["randomized_ranks"] != false {
		t.Errorf("coverage.json randomized_ranks = %v / %v", mr["randomized_ranks"], mp["randomized_ranks"])
	}
	for _, k := range []string{"null_median", "null_95", "p_value"} {
		if _, ok := mr[k]; !ok {
			t.Errorf("coverage.json lacks %s", k)
		}
		if v, ok := mo[k]; !ok || v != nil {
			t.Errorf("coverage.json with the null disabled: %s = %v, want null", k, v)
		}
	}
	if mr["p_value"] != rnd.PValue || mr["null_95"] != rnd.Null95 {
		t.Errorf("coverage.json p_value %v null_95 %v, result %v %v", mr["p_value"], mr["null_95"], rnd.PValue, rnd.Null95)
	}
	if !math.IsNaN(off.PValue) || !math.IsNaN(off.NullMedian) || off.NullDraws != 0 || off.MaxDev != plain.MaxDev {
		t.Errorf("disabled null: p %v, median %v, max dev %v (with null %v)", off.PValue, off.NullMedian, off.MaxDev, plain.MaxDev)
	}
	for j := range J {
		fr, fp := rnd.PerLens[j].F, plain.PerLens[j].F
		c := fp * K
		if math.Abs(c-math.Round(c)) > 1e-12 {
			t.Errorf("lens %d: plain f = %g is not a multiple of 1/%d", j, fp, K)
		}
		if got := math.Floor(fr * (K + 1)); got != math.Round(c) {
			t.Errorf("lens %d: randomised f = %g has count %g, plain count %g", j, fr, got, c)
		}
	}
	for _, r := range []*CoverageResult{rnd, plain} {
		if !(r.NullMedian > 0 && r.NullMedian <= r.Null95 && r.PValue > 0 && r.PValue <= 1) {
			t.Errorf("null median %v, 95%% %v, p %v", r.NullMedian, r.Null95, r.PValue)
		}
		// p = P(null ≥ MaxDev): above ½ below the median, ≤ 5 % above the 95 % level.
		if r.MaxDev < r.NullMedian && r.PValue <= 0.5 {
			t.Errorf("MaxDev %.3f below the null median %.3f but p = %.3f", r.MaxDev, r.NullMedian, r.PValue)
		}
		if r.MaxDev > r.Null95 && r.PValue > 0.05+1.0/2001 {
			t.Errorf("MaxDev %.3f above the null 95%% level %.3f but p = %.3f", r.MaxDev, r.Null95, r.PValue)
		}
	}
	// Plain ranks with K = 3 have the coarser null: its median is larger.
	if plain.NullMedian <= rnd.NullMedian {
		t.Errorf("plain null median %.3f ≤ randomised %.3f", plain.NullMedian, rnd.NullMedian)
	}
}

// TestCoverageSaveSamples checks coverage_samples.fits: the truth planes
// are the validation galaxies in lens order, the sample cube holds K
// planes per lens, and TARP recomputed from the file reproduces the
// experiment's ranks exactly.
func TestCoverageSaveSamples(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	const J, K = 5, 2
	dir := t.TempDir()
	r, err := Coverage(context.Background(), s, CoverageOptions{Lenses: J, Samples: K, Steps: 5, SigmaN: 0.05,
		Bootstrap: 10, NullDraws: -1, SaveSamples: true}, dir)
	if err != nil {
		t.Fatal(err)
	}
	hdus, err := fits.ReadFile(filepath.Join(dir, "coverage_samples.fits"))
	if err != nil {
		t.Fatal(err)
	}
	if sm, ok := fits.ByName(hdus, "SAMPLES"); !ok {
		t.Fatal("no SAMPLES HDU")
	} else if k, _, _ := sm.Header.Int("NSAMPLE"); k != K {
		t.Errorf("NSAMPLE = %d, want %d", k, K)
	}
	truths, samples, side, err := ReadCoverageSamples(filepath.Join(dir, "coverage_samples.fits"))
	if err != nil {
		t.Fatal(err)
	}
	if side != s.Side || len(truths) != J || len(samples[J-1]) != K {
		t.Fatalf("file holds %d lenses × %d samples of side %d", len(truths), len(samples[J-1]), side)
	}
	for j := range J {
		for i, v := range truths[j] {
			if v != s.Galaxies[j%len(s.Galaxies)][i] {
				t.Fatalf("TRUTH plane %d pixel %d = %g, galaxy %g", j, i, v, s.Galaxies[j%len(s.Galaxies)][i])
			}
		}
	}
	res, err := diag.TARP(samples, truths, diag.TARPOptions{Normalize: true, Randomize: true,
		Seed: seedFor(s.Seed, tagCoverage, tagTARP)})
	if err != nil {
		t.Fatal(err)
	}
	for j := range J {
		if res.F[j] != r.PerLens[j].F {
			t.Errorf("lens %d: TARP f from the file %g, experiment %g", j, res.F[j], r.PerLens[j].F)
		}
	}
	if len(r.Files) != 3 || r.Files[2] != "coverage_samples.fits" {
		t.Errorf("Files = %v", r.Files)
	}
}

// TestCoverageCalibrationSummaries: coverage.json's spread–skill ratio and
// pixel-rank bins equal diag's functions applied to the saved samples.
func TestCoverageCalibrationSummaries(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	const J, K = 4, 3
	dir := t.TempDir()
	r, err := Coverage(context.Background(), s, CoverageOptions{Lenses: J, Samples: K, Steps: 5, SigmaN: 0.05,
		Bootstrap: 10, NullDraws: -1, SaveSamples: true, RankEdges: []float64{0.01, 0.2}}, dir)
	if err != nil {
		t.Fatal(err)
	}
	truths, samples, _, err := ReadCoverageSamples(filepath.Join(dir, "coverage_samples.fits"))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := diag.SpreadSkill(samples, truths)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := diag.PixelRanks(samples, truths, []float64{0.01, 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if r.SpreadSkill != ss || !(ss > 0) {
		t.Errorf("spread_skill %g, from the file %g", r.SpreadSkill, ss)
	}
	// Per lens: ‖t − m̄‖² / ((1 + 1/K) Σ unbiased variances), by hand.
	for j := range J {
		var num, den float64
		for i, ti := range truths[j] {
			var m, v float64
			for _, x := range samples[j] {
				m += x[i] / K
			}
			for _, x := range samples[j] {
				v += (x[i] - m) * (x[i] - m) / (K - 1)
			}
			num += (ti - m) * (ti - m)
			den += (1 + 1.0/K) * v
		}
		if got := r.PerLens[j].SpreadSkill; math.Abs(got-num/den) > 1e-9*num/den {
			t.Errorf("lens %d: spread_skill %g, by hand %g", j, got, num/den)
		}
	}
	if len(r.PixelRanks) != 3 || r.PixelRanks[1].Pixels != bins[1].Pixels || r.PixelRanks[2].Bias != bins[2].Bias {
		t.Errorf("pixel ranks %+v, from the file %+v", r.PixelRanks, bins)
	}
	held, err := diag.HeldOutRanks(samples, truths, []float64{0.01, 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.HeldOutRanks) != 3 || r.HeldOutRanks[0].Pixels != held[0].Pixels || r.HeldOutRanks[2].Hist[1] != held[2].Hist[1] {
		t.Errorf("held-out ranks %+v, from the file %+v", r.HeldOutRanks, held)
	}
	// The statistics' ranks: recount the (tie-free) flux ranks by hand.
	if len(r.StatRanks) != len(diag.ImageStatistics(s.Side)) || r.StatRanks[0].Name != "flux" {
		t.Fatalf("stat ranks %+v", r.StatRanks)
	}
	// The sky noise statistic: its mean over the truths from diag.SkyNoise
	// directly (its default border, max(1, side/16) pixels).
	var skyMean float64
	for _, x := range truths {
		skyMean += diag.SkyNoise(x, s.Side, max(1, s.Side/16)) / float64(J)
	}
	if st := r.StatRanks[4]; st.Name != "sky noise" || math.Abs(st.MeanTruth-skyMean) > 1e-12*skyMean || !(skyMean > 0) {
		t.Errorf("stat %q mean over truths %g, by hand %g", st.Name, st.MeanTruth, skyMean)
	}
	hist := make([]int, K+1)
	for j := range J {
		f := func(x []float64) (s float64) {
			for _, v := range x {
				s += v
			}
			return s
		}
		ft, below := f(truths[j]), 0
		for _, x := range samples[j] {
			if f(x) < ft {
				below++
			}
		}
		hist[below]++
	}
	if !slices.Equal(hist, r.StatRanks[0].Hist) {
		t.Errorf("flux rank histogram %v, recounted %v", r.StatRanks[0].Hist, hist)
	}
	var m map[string]any
	readJSON(t, filepath.Join(dir, "coverage.json"), &m)
	if _, ok := m["spread_skill"].(float64); !ok {
		t.Errorf("coverage.json spread_skill = %v", m["spread_skill"])
	}
	if pr, ok := m["pixel_ranks"].([]any); !ok || len(pr) != 3 {
		t.Errorf("coverage.json pixel_ranks = %v", m["pixel_ranks"])
	}
	if pr, ok := m["held_out_ranks"].([]any); !ok || len(pr) != 3 {
		t.Errorf("coverage.json held_out_ranks = %v", m["held_out_ranks"])
	}
	if pr, ok := m["stat_ranks"].([]any); !ok || len(pr) != len(r.StatRanks) {
		t.Errorf("coverage.json stat_ranks = %v", m["stat_ranks"])
	}
}

// TestCoverageFromSamples: recomputing from coverage_samples.fits with the
// same seed reproduces TARP's ranks, the deviation and the calibration
// summaries of the run that wrote it; a file without the cubes is refused.
func TestCoverageFromSamples(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	s.Sets = []string{"x", "y", "x"}
	dir := t.TempDir()
	r, err := Coverage(context.Background(), s, CoverageOptions{Lenses: 5, Samples: 3, Steps: 5, SigmaN: 0.05,
		Bootstrap: 10, NullDraws: 50, SaveSamples: true}, dir)
	if err != nil {
		t.Fatal(err)
	}
	dir2 := t.TempDir()
	r2, err := CoverageFromSamples(Setup{Seed: s.Seed}, filepath.Join(dir, "coverage_samples.fits"),
		CoverageOptions{Bootstrap: 10, NullDraws: 50}, dir2)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Lenses != 5 || r2.Samples != 3 || r2.MaxDev != r.MaxDev || r2.PValue != r.PValue || r2.SpreadSkill != r.SpreadSkill {
		t.Errorf("recomputed J %d K %d max dev %g p %g spread-skill %g; run %g %g %g",
			r2.Lenses, r2.Samples, r2.MaxDev, r2.PValue, r2.SpreadSkill, r.MaxDev, r.PValue, r.SpreadSkill)
	}
	// The per-lens records come from the run's coverage.json beside the
	// samples, and with them the data sets.
	for j := range r.PerLens {
		a, b := r2.PerLens[j], r.PerLens[j]
		if a.F != b.F || a.Source != b.Source || a.Chi2NuAvg != b.Chi2NuAvg || a.Set != b.Set || a.Lens != b.Lens {
			t.Errorf("lens %d: %+v, run %+v", j, a, b)
		}
	}
	if r2.SigmaNFrac != 0.05 || r2.Likelihood != r.Likelihood || len(r2.BySet) != 2 ||
		r2.BySet[1].Averaged.MaxDev != r.BySet[1].Averaged.MaxDev {
		t.Errorf("labels σ_n %g likelihood %q, by set %+v", r2.SigmaNFrac, r2.Likelihood, r2.BySet)
	}
	checkPNG(t, filepath.Join(dir2, "coverage.png"))
	// Without that file: no per-lens records, data sets from the names.
	if err := os.Remove(filepath.Join(dir, "coverage.json")); err != nil {
		t.Fatal(err)
	}
	dir4 := t.TempDir()
	r4, err := CoverageFromSamples(Setup{Seed: s.Seed, Names: []string{"lens 0", "lens 1", "lens 4"}, Sets: []string{"p", "q", "q"}},
		filepath.Join(dir, "coverage_samples.fits"), CoverageOptions{Bootstrap: 10, NullDraws: 50}, dir4)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	readJSON(t, filepath.Join(dir4, "coverage.json"), &m)
	if m["sigma_n_frac"] != nil {
		t.Errorf("sigma_n_frac = %v, want null", m["sigma_n_frac"])
	}
	if r4.PerLens[1].Source != "lens 1" || r4.PerLens[1].Set != "q" || r4.PerLens[2].Set != "" ||
		len(r4.BySet) != 1 || r4.BySet[0].Set != "q" || r4.BySet[0].Lenses != 2 {
		t.Errorf("sets from names: lens 1 %+v, by set %+v", r4.PerLens[1], r4.BySet)
	}
	// Lenses keeps the first lenses: their spread–skill equals diag's on them.
	truths, samples, _, err := ReadCoverageSamples(filepath.Join(dir, "coverage_samples.fits"))
	if err != nil {
		t.Fatal(err)
	}
	r3, err := CoverageFromSamples(Setup{Seed: s.Seed}, filepath.Join(dir, "coverage_samples.fits"), CoverageOptions{Lenses: 3, NullDraws: -1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ss3, err := diag.SpreadSkill(samples[:3], truths[:3])
	if err != nil {
		t.Fatal(err)
	}
	if r3.Lenses != 3 || len(r3.PerLens) != 3 || r3.SpreadSkill != ss3 {
		t.Errorf("first 3 lenses: %d lenses, spread–skill %g, want 3 and %g", r3.Lenses, r3.SpreadSkill, ss3)
	}
	bad := filepath.Join(t.TempDir(), "bad.fits")
	if err := fits.WriteFile(bad, []*fits.HDU{fits.NewImage(4, 4, nil)}); err != nil {
		t.Fatal(err)
	}
	if _, err := CoverageFromSamples(Setup{}, bad, CoverageOptions{}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "bad.fits") {
		t.Errorf("file without cubes: %v", err)
	}
}

// TestCoverageLikelihoodOption: "diag" changes the samples (a different
// likelihood score) and is recorded; unknown names and diag together with
// the exact likelihood are refused.
func TestCoverageLikelihoodOption(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	run := func(lik string) *CoverageResult {
		t.Helper()
		r, err := Coverage(context.Background(), s, CoverageOptions{Lenses: 3, Samples: 2, Steps: 5, SigmaN: 0.05,
			Bootstrap: 10, NullDraws: -1, Likelihood: lik}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	conv, diag := run(""), run("diag")
	if conv.Likelihood != "convolved" || diag.Likelihood != "diag" {
		t.Errorf("likelihood labels %q, %q", conv.Likelihood, diag.Likelihood)
	}
	if conv.SpreadSkill == diag.SpreadSkill {
		t.Error("diag likelihood gave the same samples as convolved")
	}
	for _, o := range []CoverageOptions{{Likelihood: "exactish"}, {Likelihood: "diag", ExactLikelihood: true}} {
		o.Lenses, o.Samples, o.Steps = 3, 2, 5
		if _, err := Coverage(context.Background(), s, o, t.TempDir()); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestCoverageAveraged: coverage.json carries the averaged TARP test with
// the default 64 references and its permutation null (a p-value in (0, 1]
// that agrees with diag.TARPAveraged on the saved samples), no null when
// NullDraws is disabled, and nothing when References is negative.
func TestCoverageAveraged(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	o := CoverageOptions{Lenses: 6, Samples: 3, Steps: 5, SigmaN: 0.05, Bootstrap: 10, NullDraws: 300, SaveSamples: true}
	dir := t.TempDir()
	r, err := Coverage(context.Background(), s, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	a := r.Averaged
	if a == nil || a.References != 64 || a.Permutations != 300 || !(a.PValue > 0 && a.PValue <= 1) || len(a.ECP) != 101 {
		t.Fatalf("averaged TARP: %+v", a)
	}
	var m map[string]any
	readJSON(t, filepath.Join(dir, "coverage.json"), &m)
	ta, ok := m["tarp_averaged"].(map[string]any)
	if !ok || ta["references_per_lens"] != 64.0 || ta["p_value"] != a.PValue || ta["max_abs_dev"] != a.MaxDev {
		t.Errorf("coverage.json tarp_averaged = %v", m["tarp_averaged"])
	}
	truths, samples, _, err := ReadCoverageSamples(filepath.Join(dir, "coverage_samples.fits"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := diag.TARPAveraged(samples, truths, diag.TARPAvgOptions{References: 64, Permutations: 300,
		Seed: seedFor(s.Seed, tagCoverage, tagTARP, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if ref.MaxDev != a.MaxDev || ref.PValue != a.PValue {
		t.Errorf("from the saved samples: max dev %g p %g, experiment %g %g", ref.MaxDev, ref.PValue, a.MaxDev, a.PValue)
	}

	o.NullDraws, o.SaveSamples = -1, false
	r, err = Coverage(context.Background(), s, o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r.Averaged == nil || r.Averaged.Permutations != 0 || !math.IsNaN(r.Averaged.PValue) || r.Averaged.MaxDev != a.MaxDev {
		t.Errorf("without a null: %+v (with one: max dev %g)", r.Averaged, a.MaxDev)
	}
	o.References = -1
	if r, err = Coverage(context.Background(), s, o, t.TempDir()); err != nil || r.Averaged != nil {
		t.Errorf("References −1: %v, averaged %+v", err, r.Averaged)
	}
}

// TestCoverageBySet: with galaxies from two data sets, coverage reports
// each set's lenses on their own, in order of first appearance, and the
// set's averaged TARP equals diag.TARPAveraged on those lenses' saved
// samples; with one set (or none) there is no breakdown.
func TestCoverageBySet(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	s.Sets = []string{"x", "y", "x"}
	o := CoverageOptions{Lenses: 6, Samples: 3, Steps: 5, SigmaN: 0.05, Bootstrap: 10, NullDraws: 100, SaveSamples: true}
	dir := t.TempDir()
	r, err := Coverage(context.Background(), s, o, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.BySet) != 2 || r.BySet[0].Set != "x" || r.BySet[0].Lenses != 4 || r.BySet[1].Set != "y" || r.BySet[1].Lenses != 2 {
		t.Fatalf("by set: %+v", r.BySet)
	}
	for j, want := range []string{"x", "y", "x", "x", "y", "x"} {
		if r.PerLens[j].Set != want {
			t.Errorf("lens %d: set %q, want %q", j, r.PerLens[j].Set, want)
		}
	}
	truths, samples, _, err := ReadCoverageSamples(filepath.Join(dir, "coverage_samples.fits"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := diag.TARPAveraged([][][]float64{samples[1], samples[4]}, [][]float64{truths[1], truths[4]},
		diag.TARPAvgOptions{References: 64, Permutations: 100, Seed: seedFor(s.Seed, tagCoverage, tagTARP, 2, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if y := r.BySet[1].Averaged; y == nil || y.MaxDev != ref.MaxDev || y.PValue != ref.PValue {
		t.Errorf("set y: %+v, from its lenses %g p %g", y, ref.MaxDev, ref.PValue)
	}
	ss, _ := diag.SpreadSkill([][][]float64{samples[1], samples[4]}, [][]float64{truths[1], truths[4]})
	if r.BySet[1].SpreadSkill != ss || len(r.BySet[1].StatRanks) != 6 {
		t.Errorf("set y: spread–skill %g (want %g), %d statistics", r.BySet[1].SpreadSkill, ss, len(r.BySet[1].StatRanks))
	}
	checkPNG(t, filepath.Join(dir, "coverage_sets.png"))
	var m map[string]any
	readJSON(t, filepath.Join(dir, "coverage.json"), &m)
	if bs, ok := m["by_set"].([]any); !ok || len(bs) != 2 {
		t.Errorf("coverage.json by_set = %v", m["by_set"])
	}
	for j, l := range r.PerLens {
		if l.Index != j {
			t.Errorf("lens %d: index %d", j, l.Index)
		}
	}

	// Only set y: lenses 1 and 4, each the same as in the full run; with
	// Resume in the full run's folder both are read, none sampled.
	oy := o
	oy.Set, oy.SaveSamples = "y", false
	for _, resume := range []bool{false, true} {
		w := &cancelAfter{}
		sy := s
		sy.Progress, sy.Prepared = w, "stars removed"
		d := t.TempDir()
		if resume {
			d, oy.Resume = dir, true
		}
		ry, err := Coverage(context.Background(), sy, oy, d)
		if err != nil {
			t.Fatal(err)
		}
		if ry.Lenses != 2 || ry.Set != "y" || len(ry.PerLens) != 2 || ry.Truth != "validation galaxies (stars removed)" {
			t.Fatalf("set y (resume %v): %d lenses, set %q, truth %q", resume, ry.Lenses, ry.Set, ry.Truth)
		}
		for n, j := range []int{1, 4} {
			a, b := ry.PerLens[n], r.PerLens[j]
			if a.Index != j || a.Source != b.Source || a.Chi2NuAvg != b.Chi2NuAvg || a.Lens != b.Lens {
				t.Errorf("set y (resume %v) lens %d: %+v, full run %+v", resume, j, a, b)
			}
		}
		if ry.SpreadSkill != ss {
			t.Errorf("set y run (resume %v): spread–skill %g, want %g", resume, ry.SpreadSkill, ss)
		}
		if n, want := w.count(" done: "), map[bool]int{false: 2, true: 0}[resume]; n != want {
			t.Errorf("set y (resume %v): sampled %d lenses, want %d", resume, n, want)
		}
	}
	// Resuming with only lens 2 of 6 missing: the ETA after it counts no
	// lens that is already stored.
	if err := os.Remove(partPath(dir, 1)); err != nil {
		t.Fatal(err)
	}
	w := &cancelAfter{}
	sr := s
	sr.Progress = w
	orr := o
	orr.Resume, orr.SaveSamples = true, false
	if _, err := Coverage(context.Background(), sr, orr, dir); err != nil {
		t.Fatal(err)
	}
	if n := w.count(" done: "); n != 1 {
		t.Errorf("resumed with one lens missing: %d sampled, log\n%s", n, w.buf.String())
	}
	if n := toSample(dir, []int{2, 3, 4, 5, 6, 7}, true); n != 2 {
		t.Errorf("ETA counts %d lenses to sample after lens 2 of 8 with lenses 0–5 stored, want 2", n)
	}
	if n := toSample(dir, []int{2, 3}, false); n != 2 {
		t.Errorf("a fresh run counts %d lenses to sample of 2", n)
	}
	for _, bad := range []CoverageOptions{{Set: "z"}, {Set: "y", Lenses: 3}, {Set: "y", TruthFromPrior: true}} {
		b := o
		b.Set, b.TruthFromPrior, b.SaveSamples = bad.Set, bad.TruthFromPrior, false
		if bad.Lenses > 0 {
			b.Lenses = bad.Lenses
		}
		if _, err := Coverage(context.Background(), s, b, t.TempDir()); err == nil || !strings.Contains(err.Error(), `"`+bad.Set+`"`) {
			t.Errorf("%+v: error %v", bad, err)
		}
	}

	s.Sets = []string{"x", "x", "x"}
	o.SaveSamples = false
	if r, err = Coverage(context.Background(), s, o, t.TempDir()); err != nil || r.BySet != nil {
		t.Errorf("one set: %v, by set %+v", err, r.BySet)
	}
}

// TestCoverageDiverged: a one-step sampler's samples do not fit the data
// (χ²_ν ≫ 100); coverage marks those lenses, counts them in coverage.json
// and warns, since TARP's standardisation by the pooled samples makes its
// numbers meaningless then (five steps diverge too in this setup). With
// the technique-2 step count no lens diverges.
func TestCoverageDiverged(t *testing.T) {
	s := tinySetup(t, 8, 0.5)
	var log strings.Builder
	s.Progress = &log
	r, err := Coverage(context.Background(), s, CoverageOptions{Lenses: 3, Samples: 2, Steps: 1, SigmaN: 0.05, Bootstrap: 10, NullDraws: -1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range r.PerLens {
		if l.Chi2NuAvg > DivergedChi2 && !l.Diverged {
			t.Errorf("%s: χ²_ν %g, diverged %v", l.Source, l.Chi2NuAvg, l.Diverged)
		}
		if l.Diverged {
			n++
		}
	}
	if n == 0 || r.DivergedLenses != n || !strings.Contains(log.String(), "WARNING") {
		t.Errorf("one step: %d diverged lenses, counted %d, per-lens χ²_ν %v\n%s", n, r.DivergedLenses, r.PerLens, log.String())
	}
	log.Reset()
	r, err = Coverage(context.Background(), s, CoverageOptions{Lenses: 3, Samples: 2, SigmaN: 0.05, Bootstrap: 10, NullDraws: -1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r.DivergedLenses != 0 || strings.Contains(log.String(), "WARNING") {
		t.Errorf("technique-2 steps: %d diverged lenses", r.DivergedLenses)
	}
	if !diverged([]float64{1, math.NaN()}) || !diverged([]float64{101}) || diverged([]float64{0.9, 100}) {
		t.Error("diverged() thresholds")
	}
}

// TestHighestSpreadSkill: the lenses with the largest per-lens ratios,
// largest first, skipping lenses without one.
func TestHighestSpreadSkill(t *testing.T) {
	lenses := []CoverageLens{{Source: "a", SpreadSkill: 1.5}, {Source: "nan", SpreadSkill: math.NaN()},
		{Source: "b", SpreadSkill: 2}, {Source: "c", SpreadSkill: 0.7}}
	if got, want := highestSpreadSkill(lenses, 2), "b 2.00, a 1.50"; got != want {
		t.Errorf("highest 2: %q, want %q", got, want)
	}
	if got, want := highestSpreadSkill(lenses, 9), "b 2.00, a 1.50, c 0.70"; got != want {
		t.Errorf("highest 9: %q, want %q", got, want)
	}
	if got := highestSpreadSkill(lenses[1:2], 3); got != "" {
		t.Errorf("no ratios: %q, want empty", got)
	}
}
