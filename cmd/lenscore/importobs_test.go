package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lenscore/lenscore/fits"
	"github.com/lenscore/lenscore/observation"
)

// importFrame writes a 40×40 "telescope frame" made from a simulated lens
// (×50, as if in e⁻/s, with a uniform noise map) and its PSF, and returns
// the paths.
func importFrame(t *testing.T, dir string) (lensPath, img, noise, psf string) {
	t.Helper()
	lensPath = writeText(t, dir, "lens.json", simLens)
	// A pixelated source (the rendered Sérsic on the 16² grid invert uses),
	// so that the model can fit the data exactly.
	first := filepath.Join(dir, "sim0.fits")
	mustRun(t, "simulate", "--lens", lensPath, "--npix", "40", "--pixel-scale", "0.05", "--source-npix", "16",
		"--source-pixel-scale", "0.04", "--out", first)
	o0, err := observation.Read(first)
	if err != nil {
		t.Fatal(err)
	}
	srcPath := filepath.Join(dir, "src16.fits")
	if err := fits.WriteFile(srcPath, []*fits.HDU{fits.NewImage(16, 16, o0.Truth)}); err != nil {
		t.Fatal(err)
	}
	sim := filepath.Join(dir, "sim.fits")
	mustRun(t, "simulate", "--lens", lensPath, "--source", srcPath, "--npix", "40", "--pixel-scale", "0.05",
		"--source-pixel-scale", "0.04", "--psf-fwhm", "0.1", "--noise-sigma", "0.05", "--seed", "3", "--out", sim)
	o, err := observation.Read(sim)
	if err != nil {
		t.Fatal(err)
	}
	scaleSlice(o.Image, 50)
	nm := make([]float64, len(o.Image))
	for i := range nm {
		nm[i] = 2.5
	}
	w := func(name string, nx, ny int, d []float64) string {
		p := filepath.Join(dir, name)
		if err := fits.WriteFile(p, []*fits.HDU{fits.NewImage(nx, ny, d)}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return lensPath, w("img.fits", 40, 40, o.Image), w("noise.fits", 40, 40, nm), w("psf.fits", o.PSF.Cols, o.PSF.Rows, o.PSF.Kernel)
}

// TestImportObsThenInvert imports a frame and inverts it with no flags but
// --obs, --lens and the prior: the geometry, noise, mask and PSF come from
// the file, the source normalisation is chosen automatically, and the mean
// is in the frame's units.
func TestImportObsThenInvert(t *testing.T) {
	dir := t.TempDir()
	lensPath, img, noise, psf := importFrame(t, dir)
	obs := filepath.Join(dir, "obs.fits")
	out := mustRun(t, "import-obs", "--image", img, "--noise-map", noise, "--psf", psf, "--pixel-scale", "0.05", "--npix", "32",
		"--center", "19.5,19.5", "--sky-scatter", "none", "--mask-circle", "0.5,0.5,0.12", "--source-npix", "16", "--out", obs)
	if !strings.Contains(out, "32×32 at 0.05″/px") {
		t.Errorf("import-obs output: %s", out)
	}
	// A second import to the same file is refused.
	code, _, stderr := runCLI(t, "import-obs", "--image", img, "--noise-map", noise, "--psf", psf, "--pixel-scale", "0.05", "--npix", "32", "--out", obs)
	if code != 1 || !strings.Contains(stderr, "exists") {
		t.Errorf("overwrite: exit %d, %s", code, stderr)
	}
	inv := filepath.Join(dir, "inv")
	mustRun(t, "invert", "--obs", obs, "--lens", lensPath, "--prior-sigma", "0.3", "--out", inv)
	var sum invertSummary
	b, err := os.ReadFile(filepath.Join(inv, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	g := sum.Geometry
	if g.NPix != 32 || g.Scale != 0.05 || g.SrcNPix != 16 || g.SrcScale != 0.04 || g.Unit != "electron/s" || g.SourceNormFrom != "auto" || !(g.SourceNorm > 1) {
		t.Errorf("geometry %+v", g)
	}
	// The mask circle removed ≈ π(0.12/0.05)² ≈ 18 pixels.
	if sum.Nu >= 32*32 || sum.Nu < 32*32-30 {
		t.Errorf("ν = %d, want 1024 minus the circle", sum.Nu)
	}
	// Data: simulation ×50 with σ 0.05×50 = 2.5, so χ²_ν ≈ 1 with the right noise.
	if math.Abs(sum.Chi2NuMean-1) > 0.25 {
		t.Errorf("χ²_ν of the mean %g", sum.Chi2NuMean)
	}
	var peak float64
	for _, v := range readHDUs(t, filepath.Join(inv, "mean.fits"))[0].Data {
		peak = math.Max(peak, v)
	}
	// The auto norm is the peak of a Gaussian mean with the evidence's
	// amplitude; invert's prior (σ 0.3 in prior units) gives a similar one.
	if math.Abs(peak/g.SourceNorm-1) > 0.1 {
		t.Errorf("mean peak %g, source normalisation %g: not in the data's units", peak, g.SourceNorm)
	}
}

// TestImportObsErrors checks the bad inputs of issue 18: a clear error, a
// non-zero exit and no output.
func TestImportObsErrors(t *testing.T) {
	dir := t.TempDir()
	_, img, noise, psf := importFrame(t, dir)
	w := func(name string, nx, ny int, d []float64) string {
		p := filepath.Join(dir, name)
		if err := fits.WriteFile(p, []*fits.HDU{fits.NewImage(nx, ny, d)}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := w("small.fits", 30, 40, make([]float64, 1200))
	neg := make([]float64, 1600)
	for i := range neg {
		neg[i] = 1
	}
	neg[20*40+21] = -1
	negP := w("neg.fits", 40, 40, neg)
	zeroPSF := w("zeropsf.fits", 5, 5, make([]float64, 25))
	base := []string{"import-obs", "--pixel-scale", "0.05", "--npix", "20"}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"shapes differ", []string{"--image", img, "--noise-map", small, "--psf", psf}, []string{"small.fits", "30×40", "40×40"}},
		{"negative noise", []string{"--image", img, "--noise-map", negP, "--psf", psf}, []string{"neg.fits", "row 20, col 21", "> 0"}},
		{"zero PSF", []string{"--image", img, "--noise-map", noise, "--psf", zeroPSF}, []string{"zeropsf.fits", "no positive flux"}},
		{"centre outside", []string{"--image", img, "--noise-map", noise, "--psf", psf, "--center", "50,3"}, []string{"img.fits", "outside"}},
		{"cut-out too large", []string{"--image", img, "--noise-map", noise, "--psf", psf, "--rebin", "3"}, []string{"img.fits", "60×60", "larger"}},
		{"bad circle", []string{"--image", img, "--noise-map", noise, "--psf", psf, "--mask-circle", "1,2"}, []string{"X,Y,R"}},
	} {
		out := filepath.Join(dir, "out-"+strings.ReplaceAll(c.name, " ", "_")+".fits")
		code := 1
		if c.name == "bad circle" {
			code = 2
		}
		checkFails(t, errCase{name: c.name, code: code, args: append(append(append([]string{}, base...), c.args...), "--out", out), want: c.want}, out)
	}
}
