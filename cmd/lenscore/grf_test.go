package main

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// writeBlobPNG writes a w×w grey PNG with a Gaussian blob of width s at
// (x, y) (picture pixels, y down) on a background of 0.1.
func writeBlobPNG(t *testing.T, path string, w int, x, y, s float64) {
	t.Helper()
	img := image.NewGray16(image.Rect(0, 0, w, w))
	for py := 0; py < w; py++ {
		for px := 0; px < w; px++ {
			r2 := (float64(px)+0.5-x)*(float64(px)+0.5-x) + (float64(py)+0.5-y)*(float64(py)+0.5-y)
			img.SetGray16(px, py, color.Gray16{Y: uint16(math.Round((0.1 + 0.8*math.Exp(-r2/(2*s*s))) * 65535))})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// TestFitGRFPrior fits a GRF to synthetic galaxy pictures, checks the
// spectrum file, and uses it (and the folder itself) as the prior of invert.
func TestFitGRFPrior(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "gal")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	const nimg = 12
	for i := 0; i < nimg; i++ {
		writeBlobPNG(t, filepath.Join(data, "g"+strconv.Itoa(i)+".png"), 32, 12+float64(i%4)*2, 12+float64(i/4)*3, 2+float64(i%3))
	}
	grf := filepath.Join(dir, "grf.fits")
	mustRun(t, "fit-grf", "--data", data, "--exclude", "", "--size", "8", "--out", grf)
	h := readHDUs(t, grf)[0]
	if len(h.Shape) != 2 || h.Shape[0] != 8 || h.Shape[1] != 8 {
		t.Fatalf("spectrum shape %v, want 8×8", h.Shape)
	}
	for i, v := range h.Data {
		if !(v >= 0) || math.IsInf(v, 0) {
			t.Fatalf("spectrum value %d = %g", i, v)
		}
	}
	mean, smax, nfit := headerFloatT(t, h, "GRFMEAN"), headerFloatT(t, h, "SIGMAMAX"), headerFloatT(t, h, "NIMAGES")
	// Prepared images peak at 1 on a zero background: the field mean lies
	// strictly between, and the largest pairwise distance below √64 = 8.
	if !(mean > 0 && mean < 1) || !(smax > 0 && smax <= 8) || !(nfit >= 2 && nfit <= nimg) {
		t.Errorf("GRFMEAN %g, SIGMAMAX %g, NIMAGES %g", mean, smax, nfit)
	}

	lensPath, obsPath := pixelObs(t, dir)
	for _, prior := range []string{grf, data} {
		out := filepath.Join(dir, "inv-"+filepath.Base(prior))
		mustRun(t, "invert", "--obs", obsPath, "--lens", lensPath, "--prior", "grf", "--prior-data", prior, "--out", out)
		var s invertSummary
		readJSONFile(t, filepath.Join(out, "summary.json"), &s)
		if len(s.Prior) < 4 || s.Prior[:4] != "grf(" || math.IsNaN(s.LogEvidence) || !(s.Chi2NuMean > 0 && s.Chi2NuMean < 5) {
			t.Errorf("invert with grf prior %s: prior %q, log evidence %g, χ²_ν %g", prior, s.Prior, s.LogEvidence, s.Chi2NuMean)
		}
	}
	// With a GRF prior the projected likelihood is the exact one: the same
	// seed gives the same samples up to the CG tolerance; --proxy takes a
	// fit-grf file (here the prior's own spectrum, so again the same).
	var cubes [][]float64
	// projected-jacobian, with the GRF's own (analytic) Jacobian at every
	// step, is the same again.
	for i, lik := range [][]string{{"exact"}, {"projected"}, {"projected", "--proxy", grf}, {"projected-jacobian", "--jacobian-below", "0"}} {
		out := filepath.Join(dir, "smp"+strconv.Itoa(i))
		args := append([]string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior", "grf", "--prior-data", grf,
			"--n-samples", "3", "--steps", "40", "--seed", "5", "--out", out, "--likelihood"}, lik...)
		mustRun(t, args...)
		cubes = append(cubes, readHDUs(t, filepath.Join(out, "samples.fits"))[0].Data)
		var sum sampleSummary
		readJSONFile(t, filepath.Join(out, "summary.json"), &sum)
		if proj := strings.HasPrefix(lik[0], "projected"); sum.Likelihood != lik[0] || (sum.Proxy != "") != proj || (sum.CGIterations >= 1) != proj {
			t.Errorf("summary of --likelihood %v: likelihood %q, proxy %q, CG iterations %g", lik, sum.Likelihood, sum.Proxy, sum.CGIterations)
		}
		if jac := lik[0] == "projected-jacobian"; (sum.JacobianBelow != nil) != jac || (jac && *sum.JacobianBelow != 0) {
			t.Errorf("summary of --likelihood %v: jacobian_below %v", lik, sum.JacobianBelow)
		}
	}
	var top float64
	for _, v := range cubes[0] {
		top = math.Max(top, math.Abs(v))
	}
	for k := 1; k < len(cubes); k++ {
		for i, v := range cubes[k] {
			if math.Abs(v-cubes[0][i]) > 1e-4*top {
				t.Fatalf("projected likelihood run %d: sample value %d = %g, exact likelihood %g", k, i, v, cubes[0][i])
			}
		}
	}
	// A non-GRF prior on a grid without a built-in proxy needs --proxy.
	noProxy := filepath.Join(dir, "noproxy")
	checkFails(t, errCase{name: "projected without proxy", code: 1, want: []string{"--likelihood projected", "--proxy"},
		args: []string{"sample", "--obs", obsPath, "--lens", lensPath, "--prior", "gaussian", "--likelihood", "projected", "--steps", "5", "--out", noProxy}}, noProxy)
	// A spectrum for another size is refused, naming the file.
	out := filepath.Join(dir, "bad")
	checkFails(t, errCase{name: "grf size mismatch", code: 1, want: []string{"grf.fits", "8×8"},
		args: []string{"invert", "--obs", obsPath, "--lens", lensPath, "--source-npix", "16", "--prior", "grf", "--prior-data", grf, "--out", out}}, out)
	// Too few images.
	one := filepath.Join(dir, "one")
	os.Mkdir(one, 0o755)
	writeBlobPNG(t, filepath.Join(one, "a.png"), 32, 16, 16, 3)
	checkFails(t, errCase{name: "fit-grf one image", code: 1, want: []string{"one", "at least two"},
		args: []string{"fit-grf", "--data", one, "--exclude", "", "--size", "8", "--out", filepath.Join(dir, "g1.fits")}}, filepath.Join(dir, "g1.fits"))
}
