package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestSampleMatchesInvert samples the posterior of a small problem under the
// isotropic Gaussian prior with the exact likelihood score and compares the
// sample mean and spread with the exact inversion of `lenscore invert`
// (same prior): the mean of K samples must agree with the exact mean within
// its Monte Carlo error std/√K, pixel by pixel (RMS z-score), and the sample
// std with the exact std. It also checks the files sample writes.
func TestSampleMatchesInvert(t *testing.T) {
	dir := t.TempDir()
	lensPath := writeText(t, dir, "lens.json", simLens)
	obs := filepath.Join(dir, "obs.fits")
	mustRun(t, "simulate", "--lens", lensPath, "--npix", "16", "--pixel-scale", "0.1", "--source-npix", "16",
		"--source-pixel-scale", "0.06", "--supersample", "2", "--psf-fwhm", "0.15", "--noise-sigma", "0.05", "--seed", "2", "--out", obs)

	inv := filepath.Join(dir, "inv")
	mustRun(t, "invert", "--obs", obs, "--lens", lensPath, "--prior", "gaussian", "--prior-sigma", "0.3", "--out", inv)
	smp := filepath.Join(dir, "smp")
	const k = 200
	mustRun(t, "sample", "--obs", obs, "--lens", lensPath, "--prior", "gaussian", "--prior-sigma", "0.3",
		"--likelihood", "exact", "--n-samples", "200", "--steps", "200", "--seed", "3", "--out", smp)

	imean := readHDUs(t, filepath.Join(inv, "mean.fits"))[0].Data
	istd := readHDUs(t, filepath.Join(inv, "std.fits"))[0].Data
	cube := readHDUs(t, filepath.Join(smp, "samples.fits"))[0]
	if len(cube.Shape) != 3 || cube.Shape[0] != 16 || cube.Shape[1] != 16 || cube.Shape[2] != k {
		t.Fatalf("samples.fits shape %v, want [16 16 %d]", cube.Shape, k)
	}
	smean := readHDUs(t, filepath.Join(smp, "mean.fits"))[0].Data
	sstd := readHDUs(t, filepath.Join(smp, "std.fits"))[0].Data
	const d = 16 * 16
	if len(imean) != d || len(istd) != d || len(smean) != d || len(sstd) != d {
		t.Fatalf("sizes: invert mean %d std %d, sample mean %d std %d; want %d", len(imean), len(istd), len(smean), len(sstd), d)
	}
	// mean.fits is the mean of the planes of samples.fits.
	for i := 0; i < d; i++ {
		s := 0.0
		for j := 0; j < k; j++ {
			s += cube.Data[j*d+i]
		}
		if math.Abs(s/k-smean[i]) > 1e-9*(1+math.Abs(smean[i])) {
			t.Fatalf("mean.fits pixel %d = %g, mean of samples.fits %g", i, smean[i], s/k)
		}
	}
	var z2, lr, lr2 float64
	worst := 0.0
	for i := 0; i < d; i++ {
		if !(istd[i] > 0) {
			t.Fatalf("invert std pixel %d = %g", i, istd[i])
		}
		z := (smean[i] - imean[i]) / (istd[i] / math.Sqrt(k))
		z2 += z * z
		worst = math.Max(worst, math.Abs(z))
		r := math.Log(sstd[i] / istd[i])
		lr += r
		lr2 += r * r
	}
	rmsZ := math.Sqrt(z2 / d)
	t.Logf("RMS z of the sample mean %.3f (max |z| %.2f); mean log(std ratio) %.4f, RMS %.4f", rmsZ, worst, lr/d, math.Sqrt(lr2/d))
	if rmsZ > 1.5 {
		t.Errorf("sample mean vs exact posterior mean: RMS z = %.2f over %d pixels (want ≈ 1)", rmsZ, d)
	}
	// The std of K Gaussian samples has relative error ≈ 1/√(2K) = 5 %; the
	// average over pixels of log(ratio) is much tighter.
	if math.Abs(lr/d) > 0.025 || math.Sqrt(lr2/d) > 0.15 {
		t.Errorf("sample std vs exact std: mean log ratio %.3f, RMS %.3f", lr/d, math.Sqrt(lr2/d))
	}

	// summary.json: one χ²_ν per sample, sensible values.
	b, err := os.ReadFile(filepath.Join(smp, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum sampleSummary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Chi2Nu) != k || sum.Samples != k || sum.Steps != 200 || sum.Likelihood != "exact" || sum.Seed != 3 {
		t.Fatalf("summary: %d χ²_ν, samples %d, steps %d, likelihood %q, seed %d", len(sum.Chi2Nu), sum.Samples, sum.Steps, sum.Likelihood, sum.Seed)
	}
	if sum.Nu != 16*16 || sum.SigmaN != 0.05 || sum.Geometry.SrcNPix != 16 || sum.Geometry.Scale != 0.1 || sum.Geometry.SrcScale != 0.06 {
		t.Errorf("summary: ν=%d σ_n=%g geometry %+v", sum.Nu, sum.SigmaN, sum.Geometry)
	}
	for i, c := range sum.Chi2Nu {
		if !(c > 0.3 && c < 3) {
			t.Errorf("χ²_ν of sample %d = %g", i, c)
		}
	}
	for _, f := range []string{"fig1.png", "fig3.png"} {
		b, err := os.ReadFile(filepath.Join(smp, f))
		if err != nil {
			t.Fatal(err)
		}
		im, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if r := im.Bounds(); r.Dx() < 100 || r.Dy() < 100 {
			t.Errorf("%s is only %v", f, r)
		}
	}
	if _, err := os.Stat(filepath.Join(smp, "checkpoint.bin")); !os.IsNotExist(err) {
		t.Errorf("checkpoint.bin left behind after a finished run (%v)", err)
	}
	// invert's summary: the evidence maximiser is no worse than a = 1.
	b, err = os.ReadFile(filepath.Join(inv, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var is invertSummary
	if err := json.Unmarshal(b, &is); err != nil {
		t.Fatal(err)
	}
	if is.Amplitude != 1 || !(is.BestLogEvidence >= is.LogEvidence) || len(is.CurveAmplitude) != len(is.CurveLogEv) {
		t.Errorf("invert summary: amplitude %g, log evidence %g, best %g", is.Amplitude, is.LogEvidence, is.BestLogEvidence)
	}
	for i, a := range is.CurveAmplitude {
		if is.CurveLogEv[i] > is.BestLogEvidence+1e-6*math.Abs(is.BestLogEvidence) {
			t.Errorf("evidence at a=%g (%g) exceeds the maximum %g at a=%g", a, is.CurveLogEv[i], is.BestLogEvidence, is.BestAmplitude)
		}
	}
}
