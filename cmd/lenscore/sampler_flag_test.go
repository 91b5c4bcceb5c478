package main

import (
	"math"
	"path/filepath"
	"testing"
)

// TestSampleDPM2MatchesInvert: `sample --sampler dpm2` at 40 steps — a
// fifth of TestSampleMatchesInvert's 200 — draws the exact posterior of
// the small Gaussian problem that `invert` solves: the mean of K samples
// agrees with the exact mean within its Monte Carlo error (RMS z-score)
// and the sample std with the exact std. summary.json names the sampler,
// and an unknown --sampler is refused with the flag named.
func TestSampleDPM2MatchesInvert(t *testing.T) {
	dir, lensPath, obs, inv := invertedProblem(t)
	smp := filepath.Join(dir, "smp")
	const k = 200
	mustRun(t, "sample", "--obs", obs, "--lens", lensPath, "--prior", "gaussian", "--prior-sigma", "0.3",
		"--likelihood", "exact", "--sampler", "dpm2", "--n-samples", "200", "--steps", "40", "--seed", "3", "--out", smp)
	if s := readSummary(t, smp); s.Sampler != "dpm2" || s.Steps != 40 || s.Samples != k {
		t.Fatalf("summary: sampler %q, %d steps, %d samples", s.Sampler, s.Steps, s.Samples)
	}
	imean := readHDUs(t, filepath.Join(inv, "mean.fits"))[0].Data
	istd := readHDUs(t, filepath.Join(inv, "std.fits"))[0].Data
	smean := readHDUs(t, filepath.Join(smp, "mean.fits"))[0].Data
	sstd := readHDUs(t, filepath.Join(smp, "std.fits"))[0].Data
	const d = 16 * 16
	var z2, lr, lr2 float64
	for i := 0; i < d; i++ {
		z := (smean[i] - imean[i]) / (istd[i] / math.Sqrt(k))
		z2 += z * z
		r := math.Log(sstd[i] / istd[i])
		lr += r
		lr2 += r * r
	}
	rmsZ := math.Sqrt(z2 / d)
	t.Logf("dpm2, 40 steps: RMS z of the sample mean %.3f; mean log(std ratio) %.4f, RMS %.4f", rmsZ, lr/d, math.Sqrt(lr2/d))
	if rmsZ > 1.5 {
		t.Errorf("sample mean vs exact posterior mean: RMS z = %.2f over %d pixels (want ≈ 1)", rmsZ, d)
	}
	if math.Abs(lr/d) > 0.025 || math.Sqrt(lr2/d) > 0.15 {
		t.Errorf("sample std vs exact std: mean log ratio %.3f, RMS %.3f", lr/d, math.Sqrt(lr2/d))
	}

	bad := filepath.Join(dir, "bad")
	checkFails(t, errCase{name: "unknown sampler", code: 1, want: []string{"--sampler", "dpm2", `"heun"`},
		args: []string{"sample", "--obs", obs, "--lens", lensPath, "--prior-sigma", "0.3", "--sampler", "heun", "--out", bad}}, bad)
}
