package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/nn"
	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/weights"
)

// invertedProblem simulates the small 16×16 problem of the sample-versus-
// invert tests and inverts it exactly under the Gaussian prior (s = 0.3):
// the folder, lens file, observation and inversion folder.
func invertedProblem(t *testing.T) (dir, lensPath, obs, inv string) {
	t.Helper()
	dir = t.TempDir()
	lensPath = writeText(t, dir, "lens.json", simLens)
	obs = filepath.Join(dir, "obs.fits")
	mustRun(t, "simulate", "--lens", lensPath, "--npix", "16", "--pixel-scale", "0.1", "--source-npix", "16",
		"--source-pixel-scale", "0.06", "--supersample", "2", "--psf-fwhm", "0.15", "--noise-sigma", "0.05", "--seed", "2", "--out", obs)
	inv = filepath.Join(dir, "inv")
	mustRun(t, "invert", "--obs", obs, "--lens", lensPath, "--prior", "gaussian", "--prior-sigma", "0.3", "--out", inv)
	return dir, lensPath, obs, inv
}

// TestSampleMatchesInvert samples the posterior of a small problem under the
// isotropic Gaussian prior with the exact likelihood score and compares the
// sample mean and spread with the exact inversion of `lenscore invert`
// (same prior): the mean of K samples must agree with the exact mean within
// its Monte Carlo error std/√K, pixel by pixel (RMS z-score), and the sample
// std with the exact std. It also checks the files sample writes.
func TestSampleMatchesInvert(t *testing.T) {
	dir, lensPath, obs, inv := invertedProblem(t)
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
	var sum sampleSummary
	readJSONFile(t, filepath.Join(smp, "summary.json"), &sum)
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
	var is invertSummary
	readJSONFile(t, filepath.Join(inv, "summary.json"), &is)
	if is.Amplitude != 1 || !(is.BestLogEvidence >= is.LogEvidence) || len(is.CurveAmplitude) != len(is.CurveLogEv) {
		t.Errorf("invert summary: amplitude %g, log evidence %g, best %g", is.Amplitude, is.LogEvidence, is.BestLogEvidence)
	}
	for i, a := range is.CurveAmplitude {
		if is.CurveLogEv[i] > is.BestLogEvidence+1e-6*math.Abs(is.BestLogEvidence) {
			t.Errorf("evidence at a=%g (%g) exceeds the maximum %g at a=%g", a, is.CurveLogEv[i], is.BestLogEvidence, is.BestAmplitude)
		}
	}
}

// TestSampleSeedsAndChains checks that a seed fixes the samples, that sample
// k does not depend on how many samples are drawn, and that another seed
// gives other samples.
func TestSampleSeedsAndChains(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	draw := func(name, n, seed string) []float64 {
		out := filepath.Join(dir, name)
		mustRun(t, "sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", n,
			"--steps", "20", "--seed", seed, "--out", out)
		return readHDUs(t, filepath.Join(out, "samples.fits"))[0].Data
	}
	a, b, c, d := draw("a", "2", "5"), draw("b", "4", "5"), draw("c", "2", "5"), draw("d", "2", "6")
	const dim = 8 * 8
	if len(a) != 2*dim || len(b) != 4*dim {
		t.Fatalf("sizes %d, %d; want %d, %d", len(a), len(b), 2*dim, 4*dim)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("value %d of the first two samples differs between --n-samples 2 and 4: %g vs %g", i, a[i], b[i])
		}
		if a[i] != c[i] {
			t.Fatalf("same seed, value %d differs: %g vs %g", i, a[i], c[i])
		}
		if a[i] == d[i] {
			t.Fatalf("seeds 5 and 6 share value %d = %g", i, a[i])
		}
	}
	// Chains are independent: sample 0 and sample 1 differ everywhere.
	for i := 0; i < dim; i++ {
		if a[i] == a[dim+i] {
			t.Fatalf("samples 0 and 1 share pixel %d = %g", i, a[i])
		}
	}
}

// TestSampleInterruptResume interrupts sample (a cancelled context, as
// Ctrl-C gives) and continues with --resume: the result must be bit for bit
// the uninterrupted run's.
func TestSampleInterruptResume(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	args := func(out string, extra ...string) []string {
		return append([]string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "3",
			"--steps", "30", "--sampler", "pc", "--seed", "9", "--out", out}, extra...)
	}
	ref := filepath.Join(dir, "ref")
	mustRun(t, args(ref)...)

	out := filepath.Join(dir, "run")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var o, e bytes.Buffer
	if code := run(ctx, &cliEnv{stdout: &o, stderr: &e}, args(out)); code != 130 {
		t.Fatalf("interrupted run: exit %d, want 130\n%s", code, e.String())
	}
	if !strings.Contains(e.String(), "--resume") {
		t.Errorf("interrupted run does not tell how to continue:\n%s", e.String())
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint.bin")); err != nil {
		t.Fatalf("no checkpoint after the interruption: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "samples.fits")); err == nil {
		t.Fatalf("samples.fits written by an interrupted run")
	}
	// Starting afresh over an unfinished run is refused.
	if code, _, errs := runCLI(t, args(out)...); code != 1 || !strings.Contains(errs, "--resume") {
		t.Errorf("fresh run over a checkpoint: exit %d, %q", code, errs)
	}
	mustRun(t, args(out, "--resume")...)
	want := readHDUs(t, filepath.Join(ref, "samples.fits"))[0].Data
	got := readHDUs(t, filepath.Join(out, "samples.fits"))[0].Data
	if len(got) != len(want) {
		t.Fatalf("%d values after resume, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("resumed run differs from the uninterrupted one at %d: %.17g vs %.17g", i, got[i], want[i])
		}
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint.bin")); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after the resumed run finished (%v)", err)
	}
}

// TestDemoQuick runs demo with the built-in GRF prior and a few steps, and
// checks that the observation it writes is described by its own header: the
// lens file, geometry keywords and PSF extension rebuild an operator A with
// y − A·SOURCE of std NOISESIG.
func TestDemoQuick(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	mustRun(t, "demo", "--out", dir, "--prior", "grf", "--n-samples", "2", "--steps", "3", "--seed", "4")
	for _, f := range []string{"obs.fits", "lens.json", "samples.fits", "mean.fits", "std.fits", "summary.json", "fig1.png", "fig3.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("demo did not write %s: %v", f, err)
		}
	}
	hdus := readHDUs(t, filepath.Join(dir, "obs.fits"))
	prim, src, psfH := hdus[0], extNamed(t, hdus, "SOURCE"), extNamed(t, hdus, "PSF")
	k := make([][]float64, psfH.Shape[1])
	for r := range k {
		k[r] = psfH.Data[r*psfH.Shape[0] : (r+1)*psfH.Shape[0]]
	}
	psf, err := lens.NewPSF(k)
	if err != nil {
		t.Fatal(err)
	}
	m, err := lens.ParseFile(filepath.Join(dir, "lens.json"))
	if err != nil {
		t.Fatal(err)
	}
	n, ns := prim.Shape[0], src.Shape[0]
	if v := headerFloatT(t, prim, "SRCNPIX"); int(v) != ns {
		t.Fatalf("SRCNPIX %g but SOURCE is %d wide", v, ns)
	}
	op, err := lens.NewOperator(m.Mass(), lens.Config{Obs: lens.Grid{N: n, Scale: headerFloatT(t, prim, "PIXSCALE")},
		Src: lens.Grid{N: ns, Scale: headerFloatT(t, prim, "SRCSCALE")}, Supersample: int(headerFloatT(t, prim, "SUPERSMP")), PSF: psf})
	if err != nil {
		t.Fatal(err)
	}
	ay := make([]float64, n*n)
	op.Apply(ay, src.Data)
	var s1, s2 float64
	for i, v := range prim.Data {
		d := v - ay[i]
		s1 += d
		s2 += d * d
	}
	mm := float64(n * n)
	std := math.Sqrt((s2 - s1*s1/mm) / (mm - 1))
	sigma := headerFloatT(t, prim, "NOISESIG")
	if math.Abs(std-sigma) > 5*sigma/math.Sqrt(2*mm) || math.Abs(s1/mm) > 5*sigma/math.Sqrt(mm) {
		t.Errorf("y − A·SOURCE: mean %g, std %g; want 0 and NOISESIG %g", s1/mm, std, sigma)
	}
	var sum sampleSummary
	readJSONFile(t, filepath.Join(dir, "summary.json"), &sum)
	if sum.Samples != 2 || len(sum.Chi2Nu) != 2 || sum.Steps != 3 || sum.Seed != 4 || !strings.HasPrefix(sum.Prior, "grf") {
		t.Errorf("demo summary: %+v", sum)
	}
	// The files demo leaves can be fed back to sample.
	mustRun(t, "sample", "--obs", filepath.Join(dir, "obs.fits"), "--lens", filepath.Join(dir, "lens.json"),
		"--n-samples", "1", "--steps", "3", "--out", filepath.Join(dir, "again"))
}

// TestSampleStepsFraction checks --steps auto/K: the technique-2 count
// divided by K, and the same samples as that count given explicitly.
func TestSampleStepsFraction(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	run := func(name, steps string) (int, []float64) {
		out := filepath.Join(dir, name)
		mustRun(t, "sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "2",
			"--steps", steps, "--out", out)
		return readSummary(t, out).Steps, readHDUs(t, filepath.Join(out, "samples.fits"))[0].Data
	}
	nAuto, _ := run("auto", "auto")
	n4, a := run("auto4", "auto/4")
	if nAuto < 8 || n4 != nAuto/4 {
		t.Fatalf("auto gave %d steps, auto/4 %d; want %d", nAuto, n4, nAuto/4)
	}
	_, b := run("explicit", strconv.Itoa(n4))
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("auto/4 and --steps %d differ at %d: %g vs %g", n4, i, a[i], b[i])
		}
	}
	for _, bad := range []string{"auto/0", "auto/x", "auto/-2"} {
		out := filepath.Join(dir, "bad"+bad[5:])
		checkFails(t, errCase{name: bad, code: 1, want: []string{"--steps auto/K"}, args: []string{"sample", "--obs", obsPath,
			"--lens", lensPath, "--prior-sigma", "0.3", "--steps", bad, "--out", out}}, out)
	}
}

// TestDemoNetworkDefaults runs the demo with a (small, untrained) 64×64
// network: the network defaults (EM, N/4 steps, 8 samples) apply unless a
// flag is given explicitly.
func TestDemoNetworkDefaults(t *testing.T) {
	g, err := nn.DefaultGemm()
	if err != nil {
		t.Fatal(err)
	}
	cfg := score.Config{ImageSize: 64, Channels: 1, NF: 4, ChMult: []int{1, 1}, NumResBlocks: 1, AttnResolutions: []int{32}, FourierScale: 16}
	net, err := score.New(cfg, g, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	dir := t.TempDir()
	model := filepath.Join(dir, "net.safetensors")
	if err := weights.Save(model, net.Params(), modelMeta(t, net)); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(dir, "a")
	mustRun(t, "demo", "--model", model, "--steps", "2", "--out", a)
	if s := readSummary(t, a); s.Sampler != "em" || s.Samples != 8 || s.Steps != 2 {
		t.Errorf("network demo defaults: %+v, want em, 8 samples, 2 steps", s)
	}
	b := filepath.Join(dir, "b")
	mustRun(t, "demo", "--model", model, "--steps", "2", "--sampler", "pc", "--n-samples", "3", "--out", b)
	if s := readSummary(t, b); s.Sampler != "pc" || s.Samples != 3 {
		t.Errorf("explicit flags: %+v, want pc, 3 samples", s)
	}
}

// runSummary is the part of summary.json the tests read.
type runSummary struct {
	Sampler string `json:"sampler"`
	Samples int    `json:"samples"`
	Steps   int    `json:"steps"`
}

func readSummary(t *testing.T, dir string) runSummary {
	t.Helper()
	var s runSummary
	readJSONFile(t, filepath.Join(dir, "summary.json"), &s)
	return s
}

// readJSONFile decodes the JSON file at path into v, failing the test on
// any error.
func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// A run whose integration blows up (one Euler–Maruyama step from σ_max)
// is reported: summary.json lists the diverged samples and stderr warns;
// a normal run lists none.
func TestSampleDivergedWarning(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	for _, tc := range []struct {
		steps string
		bad   bool
	}{{"1", true}, {"auto", false}} {
		out := filepath.Join(dir, "s"+tc.steps)
		code, _, stderr := runCLI(t, "sample", "--obs", obsPath, "--lens", lensPath, "--prior-sigma", "0.3", "--n-samples", "2",
			"--steps", tc.steps, "--out", out)
		if code != 0 {
			t.Fatalf("--steps %s: exit %d: %s", tc.steps, code, stderr)
		}
		var sum sampleSummary
		readJSONFile(t, filepath.Join(out, "summary.json"), &sum)
		warned := strings.Contains(stderr, "diverged")
		if tc.bad && (len(sum.Diverged) != 2 || !warned || !(sum.Chi2Nu[0] > divergedChi2)) {
			t.Errorf("one step: χ²_ν %v, diverged %v, warning %v", sum.Chi2Nu, sum.Diverged, warned)
		}
		if !tc.bad && (len(sum.Diverged) != 0 || warned) {
			t.Errorf("auto steps: χ²_ν %v, diverged %v, warning %v", sum.Chi2Nu, sum.Diverged, warned)
		}
	}
	if d := diverged([]float64{1, 150, math.NaN(), 99, math.Inf(1)}); !slices.Equal(d, []int{1, 2, 4}) {
		t.Errorf("diverged = %v", d)
	}
}
