package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/score"
	"github.com/lenscore/lenscore/weights"
)

// modelConfig reads the network configuration of a model file.
func modelConfig(t *testing.T, path string) score.Config {
	t.Helper()
	meta, err := weights.ReadMeta(path)
	if err != nil {
		t.Fatal(err)
	}
	var c score.Config
	if err := json.Unmarshal([]byte(meta[score.MetaConfig]), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// train's architecture flags: the size's default layout, a --config file
// with flags overriding its fields, and impossible combinations refused
// (before any output) with the values that would work.
func TestTrainArchitectureFlags(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "gals")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	writeBlobs(t, data, 6)

	// 128×128: the default layout reaches 4×4 with attention at 16.
	run := filepath.Join(dir, "r128")
	mustRun(t, "train", "--out", run, "--data", data, "--size", "128", "--nf", "4", "--steps", "1", "--batch", "2", "--val-fraction", "0.2")
	c := modelConfig(t, filepath.Join(run, "ema.safetensors"))
	if c.ImageSize != 128 || c.NF != 4 || !slices.Equal(c.ChMult, []int{1, 1, 2, 2, 2, 2}) || !slices.Equal(c.AttnResolutions, []int{16}) || c.NumResBlocks != 2 {
		t.Errorf("--size 128 --nf 4 trained %+v", c)
	}

	// A config file, with --ch-mult and --num-res-blocks overriding it.
	cfgPath := writeText(t, dir, "net.json", `{"image_size": 32, "nf": 8, "ch_mult": [1, 2], "num_res_blocks": 2, "attn_resolutions": [16]}`)
	run = filepath.Join(dir, "rcfg")
	mustRun(t, "train", "--out", run, "--data", data, "--config", cfgPath, "--ch-mult", "1,2,2", "--num-res-blocks", "1",
		"--steps", "1", "--batch", "2", "--val-fraction", "0.2")
	c = modelConfig(t, filepath.Join(run, "ema.safetensors"))
	if c.ImageSize != 32 || c.NF != 8 || !slices.Equal(c.ChMult, []int{1, 2, 2}) || !slices.Equal(c.AttnResolutions, []int{16}) || c.NumResBlocks != 1 || c.Channels != 1 || c.FourierScale != 16 {
		t.Errorf("--config with overrides trained %+v", c)
	}

	out := filepath.Join(dir, "bad")
	for _, e := range []errCase{
		{name: "issue 23's case", code: 1, want: []string{"attn_resolutions has 8", "128, 64, 32, 16", "give ch_mult 5 levels"},
			args: []string{"train", "--out", out, "--data", data, "--size", "128", "--ch-mult", "1,2,2,2", "--attn-resolutions", "16,8"}},
		{name: "size not divisible", code: 1, want: []string{"image_size 100", "use image_size 96, 104", "at most 3 levels"},
			args: []string{"train", "--out", out, "--data", data, "--size", "100", "--ch-mult", "1,2,2,2", "--attn-resolutions", "none"}},
		{name: "group norm", code: 1, want: []string{"nf 18", "nf values that work with this ch_mult: 4, 8, 12"},
			args: []string{"train", "--out", out, "--data", data, "--nf", "18"}},
		{name: "bad list", code: 1, want: []string{"--ch-mult", "1;2"},
			args: []string{"train", "--out", out, "--data", data, "--ch-mult", "1;2"}},
		{name: "unknown config key", code: 1, want: []string{"--config", "nff"},
			args: []string{"train", "--out", out, "--data", data, "--config", writeText(t, dir, "typo.json", `{"image_size": 32, "nff": 8}`)}},
		{name: "config missing", code: 1, want: []string{"--config", "none.json"},
			args: []string{"train", "--out", out, "--data", data, "--config", filepath.Join(dir, "none.json")}},
	} {
		checkFails(t, e, out)
	}
}

// demo at the paper's sizes writes the geometry it promises: a 256² (128²)
// source of the same 1.92″ field in a 128² (64²) image of the same 5″
// field with 2×2 rays per pixel, the samples on the source grid and the
// figures; sample then runs on that observation with the projected
// likelihood, whose Gaussian proxy is the built-in GRF resampled to 256².
func TestDemoAndSampleAtPaperSizes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ size, npix int }{{128, 64}, {256, 128}} {
		out := filepath.Join(dir, "demo"+ftoa(float64(c.size)))
		mustRun(t, "demo", "--size", ftoa(float64(c.size)), "--prior", "grf", "--steps", "2", "--n-samples", "2", "--out", out)
		hdus := readHDUs(t, filepath.Join(out, "obs.fits"))
		if sh := hdus[0].Shape; len(sh) != 2 || sh[0] != c.npix || sh[1] != c.npix {
			t.Fatalf("--size %d: observation shape %v, want %d×%d", c.size, sh, c.npix, c.npix)
		}
		for key, want := range map[string]float64{kwPixScale: 5.0 / float64(c.npix), kwSrcScale: 1.92 / float64(c.size),
			kwSuper: 2, kwSrcNPix: float64(c.size)} {
			if got := headerFloatT(t, hdus[0], key); math.Abs(got-want) > 1e-12 {
				t.Errorf("--size %d: %s = %g, want %g", c.size, key, got, want)
			}
		}
		src := extNamed(t, hdus, "SOURCE")
		if sh := src.Shape; sh[0] != c.size || sh[1] != c.size || maxOf(src.Data) != 1 {
			t.Errorf("--size %d: SOURCE %v with peak %g, want %d² with peak 1", c.size, sh, maxOf(src.Data), c.size)
		}
		s := readHDUs(t, filepath.Join(out, "samples.fits"))[0]
		if !slices.Equal(s.Shape, []int{c.size, c.size, 2}) {
			t.Errorf("--size %d: samples.fits shape %v", c.size, s.Shape)
		}
		for _, f := range []string{"fig1.png", "fig3.png", "summary.json"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("--size %d: %v", c.size, err)
			}
		}
		if c.size != 256 {
			continue
		}
		sout := filepath.Join(dir, "sample256")
		mustRun(t, "sample", "--obs", filepath.Join(out, "obs.fits"), "--lens", filepath.Join(out, "lens.json"), "--prior", "gaussian",
			"--prior-sigma", "0.3", "--likelihood", "projected", "--steps", "2", "--n-samples", "2", "--out", sout)
		s = readHDUs(t, filepath.Join(sout, "samples.fits"))[0]
		if !slices.Equal(s.Shape, []int{256, 256, 2}) {
			t.Errorf("sample at 256²: samples.fits shape %v", s.Shape)
		}
		for i, v := range s.Data {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("sample at 256²: value %d is %g", i, v)
			}
		}
	}
}

// invert's memory check: the dense set-up's size, and an error that names
// the need, the matrix-free alternative and a source side that fits.
func TestCheckDense(t *testing.T) {
	if got, want := denseBytes(100, 50, true), 8*(100*100+101*101.0); got != want {
		t.Errorf("denseBytes iso = %g, want %g", got, want)
	}
	if got, want := denseBytes(100, 50, false), 8*(100*100+101*101+100*50.0); got != want {
		t.Errorf("denseBytes = %g, want %g", got, want)
	}
	if err := checkDenseWith("invert", "krylov", 64, 64*64, false, 1<<30); err != nil {
		t.Errorf("64² in 1 GiB: %v", err)
	}
	err := checkDenseWith("invert", "--method krylov", 256, 128*128, false, 24<<30)
	if err == nil {
		t.Fatal("256² accepted with 24 GiB")
	}
	for _, w := range []string{"N = 65536", "72.0 GiB", "use --method krylov at this size", "at most 190×190"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if denseBytes(190*190, 128*128, false) > 24<<30 || denseBytes(191*191, 128*128, false) <= 24<<30 {
		t.Error("190 is not the largest side that fits in 24 GiB")
	}
}

// invert --method krylov agrees with the exact dense inversion on a small
// problem: the evidence within its reported error (and the maximising
// amplitude with it), the mean to the CG tolerance, the std within its
// Monte Carlo error; auto picks dense at this size.
func TestInvertKrylovMatchesDense(t *testing.T) {
	dir := t.TempDir()
	lensPath, obsPath := smallObs(t, dir)
	var sums [2]invertSummary
	var means, stds [2][]float64
	for i, m := range []string{"auto", "krylov"} {
		out := filepath.Join(dir, "inv-"+m)
		mustRun(t, "invert", "--obs", obsPath, "--lens", lensPath, "--prior", "gaussian", "--prior-sigma", "0.3",
			"--method", m, "--probes", "64", "--std-samples", "200", "--out", out)
		readJSONFile(t, filepath.Join(out, "summary.json"), &sums[i])
		means[i] = readHDUs(t, filepath.Join(out, "mean.fits"))[0].Data
		stds[i] = readHDUs(t, filepath.Join(out, "std.fits"))[0].Data
	}
	d, k := sums[0], sums[1]
	if d.Method != "dense" || k.Method != "krylov" || k.StdSamples != 200 || !(k.LogEvidenceErr > 0) {
		t.Fatalf("methods %q, %q; krylov std samples %d, log evidence error %g", d.Method, k.Method, k.StdSamples, k.LogEvidenceErr)
	}
	if math.Abs(d.LogEvidence-k.LogEvidence) > 4*k.LogEvidenceErr+1e-9 {
		t.Errorf("log evidence: krylov %.4f ± %.4f, dense %.4f", k.LogEvidence, k.LogEvidenceErr, d.LogEvidence)
	}
	var num, den, ratio float64
	for i := range means[0] {
		num += (means[0][i] - means[1][i]) * (means[0][i] - means[1][i])
		den += means[0][i] * means[0][i]
		ratio += stds[1][i] * stds[1][i] / (stds[0][i] * stds[0][i])
	}
	if math.Sqrt(num/den) > 1e-5 { // CG stops at a 1e-8 relative residual
		t.Errorf("mean differs by %.3g (relative)", math.Sqrt(num/den))
	}
	if r := ratio / float64(len(means[0])); math.Abs(r-1) > 0.12 {
		t.Errorf("krylov variances average %.3f × the dense ones", r)
	}
}
