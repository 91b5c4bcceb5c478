package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/diag"
	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/observation"
)

// realLensDir finds shared/data/reallens beside the repository.
func realLensDir(t *testing.T) string {
	t.Helper()
	dir, _ := os.Getwd()
	for range 6 {
		p := filepath.Join(dir, "shared", "data", "reallens")
		if st, err := os.Stat(filepath.Join(p, "slacs2303+1422")); err == nil && st.IsDir() {
			return p
		}
		dir = filepath.Dir(dir)
	}
	t.Skip("shared/data/reallens not found beside the repository: skipping the real-lens test")
	return ""
}

// TestDemoRealCI runs demo --real end to end on a small version of SLACS
// J2303+1422 (32×32 at 0.2″, 16² sources): import, mask, lens fit, source
// samples, figures and summary. The lens must come out near the published
// SIE (θ_E 1.62″, q 0.61; Bolton et al. 2008) even at this resolution.
func TestDemoRealCI(t *testing.T) {
	data := realLensDir(t)
	out := filepath.Join(t.TempDir(), "real")
	mustRun(t, "demo", "--real", "--ci", "--data", data, "--out", out)
	var sum realSummary
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	te, q := sum.Lens["theta_e"], sum.Lens["q"]
	if math.Abs(te.Mean-1.62) > 0.15 || math.Abs(q.Mean-0.61) > 0.15 || !(te.Std > 0) {
		t.Errorf("θ_E %.3f ± %.3f, q %.3f ± %.3f; published 1.62, 0.61", te.Mean, te.Std, q.Mean, q.Std)
	}
	for _, k := range []string{"phi", "gamma", "center_x", "e1", "gamma1"} {
		if _, ok := sum.Lens[k]; !ok {
			t.Errorf("summary lens has no %s", k)
		}
	}
	if c := sum.Chi2; !(c.MAP > 0.3 && c.MAP < 10) || len(c.Samples) != 2 || c.Nu < 100 {
		t.Errorf("χ²_ν MAP %g, samples %v, ν %d", c.MAP, c.Samples, c.Nu)
	}
	if !(sum.NoiseScale > 0.8 && sum.NoiseScale < 1) || !(sum.SourceNorm > 0) || sum.Geometry.Unit != "electron/s" || !(sum.WallSeconds > 0) {
		t.Errorf("noise scale %g, source norm %g, unit %q, wall %g", sum.NoiseScale, sum.SourceNorm, sum.Geometry.Unit, sum.WallSeconds)
	}
	for _, f := range []string{"obs.fits", "obs_imported.fits", "samples.fits", "mean.fits", "std.fits", "data_model_residual.png", "source.png", "fit/corner.png", "fit/lens_samples.jsonl"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing", f)
		}
	}
	// The samples are in the data's units: their peak is the source's
	// surface brightness, of the order of the brightest arc pixel.
	h := readHDUs(t, filepath.Join(out, "samples.fits"))[0]
	var peak float64
	for _, v := range h.Data {
		peak = math.Max(peak, v)
	}
	if len(h.Shape) != 3 || h.Shape[2] != 2 || !(peak > 0.3*sum.SourceNorm && peak < 3*sum.SourceNorm) {
		t.Errorf("samples.fits shape %v, peak %g (source norm %g)", h.Shape, peak, sum.SourceNorm)
	}
	// DIR/obs.fits is what the sampler saw: masked, normalised.
	o, err := observation.Read(filepath.Join(out, "obs.fits"))
	if err != nil {
		t.Fatal(err)
	}
	if o.SourceNorm != sum.SourceNorm || o.KeptPixels() != sum.Chi2.Nu {
		t.Errorf("obs.fits: SRCNORM %g (summary %g), %d pixels kept (ν %d)", o.SourceNorm, sum.SourceNorm, o.KeptPixels(), sum.Chi2.Nu)
	}
	// A second run into the same folder is refused; an unknown system too.
	code, _, stderr := runCLI(t, "demo", "--real", "--ci", "--data", data, "--out", out)
	if code != 1 || !strings.Contains(stderr, "already holds") {
		t.Errorf("second run: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "demo", "--real", "--system", "slacs9999", "--out", filepath.Join(t.TempDir(), "x"))
	if code != 1 || !strings.Contains(stderr, "slacs9999") {
		t.Errorf("unknown system: exit %d, %s", code, stderr)
	}
	// Bad lens-fit settings are refused before any output.
	for _, bad := range [][]string{{"--fit-supersample", "0"}, {"--fit-prior-corr", "-1"}, {"--lens-moves", "stretch"}} {
		x := filepath.Join(t.TempDir(), "x")
		code, _, stderr = runCLI(t, append([]string{"demo", "--real", "--ci", "--data", data, "--out", x}, bad...)...)
		if _, err := os.Stat(x); code != 1 || !strings.Contains(stderr, bad[0]) || err == nil {
			t.Errorf("%v: exit %d, %s (output folder made: %v)", bad, code, stderr, err == nil)
		}
	}
	// The CI crop is J2303's: another system is refused before any output.
	x := filepath.Join(t.TempDir(), "x")
	code, _, stderr = runCLI(t, "demo", "--real", "--ci", "--system", "slacs1430+4105", "--data", data, "--out", x)
	if _, err := os.Stat(x); code != 1 || !strings.Contains(stderr, "--ci") || !strings.Contains(stderr, "slacs1430+4105") || err == nil {
		t.Errorf("--ci on J1430: exit %d, %s (output folder made: %v)", code, stderr, err == nil)
	}
}

// TestMapInversionMatchesAutoSourceNorm checks that the demo's one MAP
// inversion gives the source normalisation of observation.AutoSourceNorm
// and the χ²_ν of its model image computed by package diag.
func TestMapInversionMatchesAutoSourceNorm(t *testing.T) {
	g := lens.Grid{N: 20, Scale: 0.1}
	cfg := lens.Config{Obs: g, Src: lens.Grid{N: 10, Scale: 0.08}, Supersample: 2}
	op, err := lens.NewOperator(lens.Composite{lens.SIE{ThetaE: 0.6, Q: 0.8, Phi: 0.3}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, 100)
	for i := range x {
		x[i] = math.Exp(-float64((i%10-5)*(i%10-5)+(i/10-4)*(i/10-4)) / 4)
	}
	y := make([]float64, g.N*g.N)
	op.Apply(y, x)
	sigma := make([]float64, len(y))
	keep := make([]bool, len(y))
	for i := range y {
		sigma[i] = 0.02 + 0.01*float64(i%3)
		y[i] += sigma[i] * rng.NormFloat64()
		keep[i] = i%7 != 0
	}
	s, model, chi, err := mapInversion(op, y, sigma, keep)
	if err != nil {
		t.Fatal(err)
	}
	want, err := observation.AutoSourceNorm(op, y, sigma, keep)
	if err != nil {
		t.Fatal(err)
	}
	mask := make([]bool, len(keep))
	for i, k := range keep {
		mask[i] = !k
	}
	chiWant, _, err := diag.ChiSquaredNuModel(y, model, diag.Noise{Map: sigma, Mask: mask})
	if err != nil {
		t.Fatal(err)
	}
	if s != want || math.Abs(chi-chiWant) > 1e-12*chiWant || !(chi > 0.5 && chi < 1.5) {
		t.Errorf("norm %g (AutoSourceNorm %g), χ²_ν %g (diag %g)", s, want, chi, chiWant)
	}
}

// TestDrawKeyResume checks that a stored lens draw is reused only with the
// key it was drawn with (a --resume with other sampler settings draws
// again) and that its samples round-trip.
func TestDrawKeyResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "draw000.fits")
	xs := [][]float64{{1, 2, 3, 4}, {5, 6, 7, 8.5}}
	if err := writeDraw(path, 2, xs, "00000000000000ab"); err != nil {
		t.Fatal(err)
	}
	got, ok := readDraw(path, 2, 2, "00000000000000ab")
	if !ok || len(got) != 2 || got[1][3] != 8.5 || got[0][0] != 1 {
		t.Fatalf("same key: ok %v, %v", ok, got)
	}
	if _, ok := readDraw(path, 2, 2, "00000000000000ac"); ok {
		t.Error("a draw made with other settings was reused")
	}
	if _, ok := readDraw(path, 2, 3, "00000000000000ab"); ok {
		t.Error("a draw with another number of samples was reused")
	}
}
