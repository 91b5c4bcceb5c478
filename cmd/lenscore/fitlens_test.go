package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
)

const fitInitLens = `{"components": [{"type": "SIE", "theta_e": 0.67, "e1": 0, "e2": 0, "center_x": 0, "center_y": 0},
                {"type": "SHEAR", "gamma1": 0, "gamma2": 0}]}`

// fitObs simulates the small lens of the fit-lens tests (θ_E = 0.6″).
func fitObs(t *testing.T, dir string) (obs, init string) {
	t.Helper()
	lp := writeText(t, dir, "truth.json", simLens)
	obs = filepath.Join(dir, "obs.fits")
	mustRun(t, "simulate", "--lens", lp, "--npix", "20", "--pixel-scale", "0.1", "--source-npix", "14",
		"--source-pixel-scale", "0.07", "--psf-fwhm", "0.12", "--noise-sigma", "0.03", "--seed", "2", "--out", obs)
	return obs, writeText(t, dir, "init.json", fitInitLens)
}

func fitArgs(obs, init, out string, extra ...string) []string {
	return append([]string{"fit-lens", "--obs", obs, "--lens-init", init, "--prior", "gaussian", "--prior-sigma", "0.5",
		"--starts", "2", "--max-evals", "250", "--walkers", "16", "--steps", "16", "--samples", "8", "--seed", "4", "--out", out}, extra...)
}

// TestFitLensRecoversThetaE runs fit-lens on a small simulated lens from a
// start 12 % off in θ_E with e = γ = 0 and the centre at 0, and checks θ_E
// within 2 % and the outputs.
func TestFitLensRecoversThetaE(t *testing.T) {
	dir := t.TempDir()
	obs, init := fitObs(t, dir)
	out := filepath.Join(dir, "fit")
	mustRun(t, fitArgs(obs, init, out)...)
	m, err := lens.ParseFile(filepath.Join(out, "lens.json"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := lens.ParamsFromModel(m)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(p[lens.PThetaE]/0.6 - 1); rel > 0.02 {
		t.Errorf("MAP θ_E = %g, truth 0.6 (%.1f %%)", p[lens.PThetaE], 100*rel)
	}
	draws, err := lensfit.ReadLensSamples(filepath.Join(out, "lens_samples.jsonl"))
	if err != nil || len(draws) != 8 {
		t.Fatalf("lens samples: %d, %v", len(draws), err)
	}
	var sum struct {
		Parameters map[string]map[string]*float64 `json:"parameters"`
		Modes      []json.RawMessage              `json:"modes"`
		LogEv      *float64                       `json:"log_evidence_map"`
		Chi2       *float64                       `json:"chi2_nu_map"`
		Evals      int                            `json:"evaluations"`
		Wall       float64                        `json:"wall_seconds"`
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(lens.ParamNames[:], lensfit.ScaleName) {
		ps := sum.Parameters[name]
		for _, k := range []string{"map", "mean", "std", "q16", "q50", "q84", "rhat", "ess"} {
			if ps[k] == nil {
				t.Errorf("summary: %s.%s missing", name, k)
			}
		}
		if ps["q16"] != nil && ps["q84"] != nil && !(*ps["q16"] <= *ps["q50"] && *ps["q50"] <= *ps["q84"]) {
			t.Errorf("%s: quantiles not ordered", name)
		}
	}
	if math.Abs(*sum.Parameters["theta_e"]["map"]-p[lens.PThetaE]) > 1e-12 {
		t.Errorf("summary MAP θ_E %g, lens.json %g", *sum.Parameters["theta_e"]["map"], p[lens.PThetaE])
	}
	if len(sum.Modes) < 1 || sum.LogEv == nil || sum.Chi2 == nil || sum.Evals < 100 {
		t.Errorf("summary: %d modes, log evidence %v, χ² %v, %d evaluations", len(sum.Modes), sum.LogEv, sum.Chi2, sum.Evals)
	}
	for _, f := range []string{"fit.png", "corner.png", "chains.png", "chain.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoint.json")); err == nil {
		t.Error("checkpoint left behind after a finished fit")
	}
	// A second run into the same directory is refused.
	code, _, stderr := runCLI(t, fitArgs(obs, init, out)...)
	if code != 1 || !strings.Contains(stderr, "already holds a finished fit") {
		t.Errorf("second run: exit %d, %s", code, stderr)
	}
}

// TestFitLensResume interrupts fit-lens (context cancelled after its first
// optimiser start) and resumes it; the lens draws equal those of an uninterrupted run.
func TestFitLensResume(t *testing.T) {
	dir := t.TempDir()
	obs, init := fitObs(t, dir)
	args := func(out string, extra ...string) []string {
		return fitArgs(obs, init, out, append([]string{"--max-evals", "80", "--steps", "12"}, extra...)...)
	}
	full := filepath.Join(dir, "full")
	mustRun(t, args(full)...)
	part := filepath.Join(dir, "part")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // cancel once the first optimiser start is saved
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(part, "checkpoint.json")); err == nil {
				cancel()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	var o, e bytes.Buffer
	code := run(ctx, &cliEnv{stdout: &o, stderr: &e}, args(part))
	cancel()
	if code != 130 || !strings.Contains(e.String(), "--resume") {
		t.Fatalf("interrupted run: exit %d, %s", code, e.String())
	}
	if _, err := os.Stat(filepath.Join(part, "lens_samples.jsonl")); err == nil {
		t.Fatal("the interrupted run wrote its results")
	}
	mustRun(t, args(part, "--resume")...)
	a, _ := os.ReadFile(filepath.Join(full, "lens_samples.jsonl"))
	b, _ := os.ReadFile(filepath.Join(part, "lens_samples.jsonl"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("resumed lens samples differ from the uninterrupted run:\n%s\n%s", a, b)
	}
}

// TestFitLensBadInput: bad names, starts and masks fail with a message
// naming the problem, exit 1 or 2 and no output.
func TestFitLensBadInput(t *testing.T) {
	dir := t.TempDir()
	obs, init := fitObs(t, dir)
	noSIE := writeText(t, dir, "noSIE.json", `{"components": [{"type": "SHEAR", "gamma1": 0, "gamma2": 0}]}`)
	farStart := writeText(t, dir, "far.json", strings.Replace(fitInitLens, `"center_x": 0,`, `"center_x": 5,`, 1))
	bigE := writeText(t, dir, "bigE.json", strings.Replace(fitInitLens, `"e1": 0,`, `"e1": 0.7,`, 1))
	badPrior := writeText(t, dir, "badprior.json", strings.Replace(fitInitLens, `]}`, `], "priors": {"theta": {"min": 0}}}`, 1))
	inf := writeText(t, dir, "inf.json", strings.Replace(fitInitLens, `"theta_e": 0.67`, `"theta_e": 1e999`, 1))
	zero := make([]float64, 400)
	maskPath := filepath.Join(dir, "mask.fits")
	if err := fits.WriteFile(maskPath, []*fits.HDU{fits.NewImage(20, 20, zero)}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	for _, c := range []errCase{
		{"unknown free parameter", fitArgs(obs, init, out, "--free", "theta_e,q"), 1, []string{"--free", `unknown parameter "q"`}},
		{"unknown prior parameter", fitArgs(obs, init, out, "--lens-prior", "thetae=0.5:1"), 1, []string{"--lens-prior", `unknown parameter "thetae"`}},
		{"prior bounds exclude the start", fitArgs(obs, init, out, "--lens-prior", "theta_e=0.7:1"), 1, []string{"init.json", "outside", "theta_e = 0.67"}},
		{"start outside the field", fitArgs(obs, farStart, out), 1, []string{"far.json", "center_x = 5"}},
		{"ellipticity start", fitArgs(obs, bigE, out), 1, []string{"bigE.json", "e1 = 0.7"}},
		{"non-finite start", fitArgs(obs, inf, out), 1, []string{"inf.json", "theta_e"}},
		{"bad priors block", fitArgs(obs, badPrior, out), 1, []string{"badprior.json", `unknown parameter "theta"`}},
		{"no SIE", fitArgs(obs, noSIE, out), 1, []string{"noSIE.json", "exactly one SIE"}},
		{"empty mask", fitArgs(obs, init, out, "--mask", maskPath), 1, []string{"mask.fits", "excludes every pixel"}},
		{"bad source scale", fitArgs(obs, init, out, "--source-scale", "7"), 1, []string{"log10_source_scale = 7"}},
		{"empty bounds", fitArgs(obs, init, out, "--lens-prior", "gamma1=0.2:0.1"), 1, []string{"gamma1", "must be < max"}},
		{"coarse factor not dividing the source", fitArgs(obs, init, out, "--coarse", "3"), 1, []string{"--coarse 3", "14² source"}},
		{"negative coarse factor", fitArgs(obs, init, out, "--coarse", "-2"), 1, []string{"--coarse -2"}},
		{"unknown moves", fitArgs(obs, init, out, "--moves", "stretch"), 1, []string{`--moves "stretch"`, "laplace or de"}},
		{"negative debias sources", fitArgs(obs, init, out, "--debias-sources", "-1"), 1, []string{"--debias-sources must be ≥ 0"}},
		{"debias model without sources", fitArgs(obs, init, out, "--debias-model", "m.safetensors"), 1, []string{"--debias-model m.safetensors", "without --debias-sources"}},
		{"debias with a source grid the network does not take", fitArgs(obs, init, out, "--debias-sources", "2"), 1, []string{"--debias-sources", "14"}},
		{"no free parameter", fitArgs(obs, init, out, "--free", "", "--lens-prior", "theta_e=fixed,e1=fixed,e2=fixed,center_x=fixed,center_y=fixed,gamma1=fixed,gamma2=fixed", "--fix-source-scale"), 1, []string{"no free parameter"}},
	} {
		checkFails(t, c, out)
	}
}

// TestSampleLensSamples: with --lens-samples, sample k uses lens draw k and
// equals sample k of an ordinary run with that lens (same seed stream),
// and summary.json records the draws and χ²_ν under each sample's lens.
func TestSampleLensSamples(t *testing.T) {
	dir := t.TempDir()
	obs, _ := fitObs(t, dir)
	var lines []string
	var paths []string
	for k, te := range []float64{0.58, 0.6, 0.62} {
		p := lens.Params{te, 0.1, 0.02, 0.02, -0.01, 0.03, -0.02}
		b, err := p.Model().MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var c bytes.Buffer
		json.Compact(&c, b)
		lines = append(lines, c.String())
		paths = append(paths, writeText(t, dir, "draw"+strconv.Itoa(k)+".json", string(b)))
	}
	draws := writeText(t, dir, "lens_samples.jsonl", strings.Join(lines, "\n")+"\n")
	common := []string{"--obs", obs, "--prior", "gaussian", "--prior-sigma", "0.3", "--steps", "30", "--seed", "9"}
	out := filepath.Join(dir, "marg")
	mustRun(t, append([]string{"sample", "--lens-samples", draws, "--lens", paths[1], "--n-samples", "3", "--out", out}, common...)...)
	got := readHDUs(t, filepath.Join(out, "samples.fits"))[0].Data
	n := 14 * 14
	for k := range paths {
		ref := filepath.Join(dir, "ref"+strconv.Itoa(k))
		mustRun(t, append([]string{"sample", "--lens", paths[k], "--n-samples", strconv.Itoa(k + 1), "--out", ref}, common...)...)
		want := readHDUs(t, filepath.Join(ref, "samples.fits"))[0].Data[k*n : (k+1)*n]
		for i := range want {
			if got[k*n+i] != want[i] {
				t.Fatalf("sample %d pixel %d = %g, ordinary run with lens draw %d gives %g", k, i, got[k*n+i], k, want[i])
			}
		}
	}
	var sum struct {
		LensSamples string    `json:"lens_samples"`
		LensIndex   []int     `json:"lens_index"`
		Chi2        []float64 `json:"chi2_nu"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.LensSamples != draws || !reflect.DeepEqual(sum.LensIndex, []int{0, 1, 2}) || len(sum.Chi2) != 3 {
		t.Errorf("summary: %+v", sum)
	}
	if _, err := os.Stat(filepath.Join(out, lensDrawsDir)); err == nil {
		t.Error("lens_draws left behind after a finished run")
	}
	// Interrupted after the first finished sample, then resumed: the same
	// samples.
	part := filepath.Join(dir, "part")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(part, lensDrawsDir, "sample_00000.fits")); err == nil {
				cancel()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	args := append([]string{"sample", "--lens-samples", draws, "--lens", paths[1], "--n-samples", "3", "--out", part}, common...)
	var o, e bytes.Buffer
	code := run(ctx, &cliEnv{stdout: &o, stderr: &e}, args)
	cancel()
	if code != 130 {
		t.Fatalf("interrupted run: exit %d, %s", code, e.String())
	}
	if code, _, stderr := runCLI(t, args...); code != 1 || !strings.Contains(stderr, "--resume") {
		t.Errorf("rerun without --resume: exit %d, %s", code, stderr)
	}
	mustRun(t, append(args, "--resume")...)
	if again := readHDUs(t, filepath.Join(part, "samples.fits"))[0].Data; !reflect.DeepEqual(again, got) {
		t.Error("resumed samples differ from the uninterrupted run")
	}
	// More samples than draws is an error naming the file.
	checkFails(t, errCase{"too few draws", append([]string{"sample", "--lens-samples", draws, "--lens", paths[0], "--n-samples", "4", "--out", filepath.Join(dir, "x")}, common...),
		1, []string{"lens_samples.jsonl", "has 3"}}, "")
}

// TestFitLensScan runs fit-lens --scan on the small simulated lens through
// its truth: one line per free lens parameter, the centre point of every
// line is the same lens (the same log posterior, bit for bit), the recorded
// ripple RMS is that of log posterior − quartic over the line, the smooth
// part is concave and dominates (its range ≥ 20 × the ripples' RMS), the
// prior smoothing flag changes the recorded prior, and a second scan into
// the folder and a bad --scan-scale are refused.
func TestFitLensScan(t *testing.T) {
	dir := t.TempDir()
	obs, _ := fitObs(t, dir)
	truth := writeText(t, dir, "truth_lens.json", simLens)
	out := filepath.Join(dir, "scan")
	args := []string{"fit-lens", "--scan", "--obs", obs, "--lens-init", truth, "--prior", "gaussian", "--prior-sigma", "0.5", "--scan-points", "21", "--prior-corr", "1.5", "--out", out}
	mustRun(t, args...)
	var sum struct {
		Scan        lensfit.ScanResult `json:"scan"`
		SourcePrior string             `json:"source_prior"`
	}
	b, err := os.ReadFile(filepath.Join(out, "scan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Scan.Lines) != 7 || !strings.Contains(sum.SourcePrior, "1.5") {
		t.Fatalf("%d lines, prior %q", len(sum.Scan.Lines), sum.SourcePrior)
	}
	c0 := sum.Scan.Lines[0].LogPost[10]
	for _, ln := range sum.Scan.Lines {
		if len(ln.LogPost) != 21 || ln.LogPost[10] != c0 || ln.Offset[10] != 0 {
			t.Fatalf("%s: %d points, centre %v (first line's %v)", ln.Name, len(ln.LogPost), ln.LogPost[10], c0)
		}
		var r2, lo, hi float64 = 0, math.Inf(1), math.Inf(-1)
		for i, v := range ln.LogPost {
			r2 += (v - ln.Smooth[i]) * (v - ln.Smooth[i])
			lo, hi = math.Min(lo, ln.Smooth[i]), math.Max(hi, ln.Smooth[i])
		}
		if rms := math.Sqrt(r2 / 21); math.Abs(rms-ln.RMS) > 1e-9*(1+rms) {
			t.Errorf("%s: recorded ripple RMS %g, recomputed %g", ln.Name, ln.RMS, rms)
		}
		if !(ln.Sigma > 0) || !(hi-lo >= 20*ln.RMS) {
			t.Errorf("%s: σ %g, smooth range %g, ripple RMS %g", ln.Name, ln.Sigma, hi-lo, ln.RMS)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "scan.png")); err != nil {
		t.Error(err)
	}
	if code, _, stderr := runCLI(t, args...); code != 1 || !strings.Contains(stderr, "already holds a scan") {
		t.Errorf("second scan: exit %d, %s", code, stderr)
	}
	bad := append(append([]string(nil), args[:len(args)-1]...), filepath.Join(dir, "x"), "--scan-scale", "fixed")
	if code, _, stderr := runCLI(t, bad...); code != 1 || !strings.Contains(stderr, "--scan-scale") {
		t.Errorf("--scan-scale fixed: exit %d, %s", code, stderr)
	}
}
