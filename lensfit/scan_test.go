package lensfit

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/obsimport"
	"github.com/lenscore/lenscore/posterior"
)

// TestPolyFitExact: a quartic through 9 points is recovered to rounding.
func TestPolyFitExact(t *testing.T) {
	want := []float64{1.5, -2, 0.25, 3, -0.75}
	var x, y []float64
	for i := -4; i <= 4; i++ {
		u := 0.3 * float64(i)
		x = append(x, u)
		y = append(y, polyEval(want, u/1.2))
	}
	got, err := polyFit(x, y, 1.2, 4)
	if err != nil {
		t.Fatal(err)
	}
	for j := range want {
		if math.Abs(got[j]-want[j]) > 1e-10 {
			t.Errorf("c_%d = %.12g, want %g", j, got[j], want[j])
		}
	}
}

// scanObjective is θ_E, e1 free (amplitude fixed) with log posterior
// −½((θ_E − 1)/σ₁)² − ½(e1/σ₂)² + A sin(2π e1/P).
func scanObjective(t *testing.T, s1, s2, amp, period float64) *Objective {
	t.Helper()
	pr := lens.DefaultPriors(2)
	for _, i := range []int{lens.PE2, lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
		pr.P[i].Fixed = true
	}
	o, err := NewObjective(nil, pr, lens.Params{1, 0, 0, 0, 0, 0, 0}, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	o.like = func(p lens.Params, _ float64) (float64, error) {
		a, b := (p[lens.PThetaE]-1)/s1, p[lens.PE1]/s2
		return -0.5*a*a - 0.5*b*b + amp*math.Sin(2*math.Pi*p[lens.PE1]/period), nil
	}
	return o
}

// TestScanMeasuresRipples: along a Gaussian line the quartic leaves nothing
// and its width is the Gaussian's (found from the probe's curvature, so
// the line spans ±5σ); along a line with a sine ripple of amplitude A and
// a period a tenth of the line, the residual's RMS is A/√2 (the quartic
// absorbs little of ten periods) and its maximum close to A.
func TestScanMeasuresRipples(t *testing.T) {
	const amp = 0.4
	o := scanObjective(t, 0.01, 0.02, amp, 0.02)
	res, err := Scan(context.Background(), o, []float64{1, 0}, ScanOptions{Points: 201})
	if err != nil {
		t.Fatal(err)
	}
	th, e1 := res.Lines[0], res.Lines[1]
	if th.Name != "theta_e" || e1.Name != "e1" {
		t.Fatalf("lines %s, %s", th.Name, e1.Name)
	}
	if th.RMS > 1e-9 || math.Abs(th.Sigma/0.01-1) > 1e-6 || math.Abs(th.Half/0.05-1) > 1e-6 {
		t.Errorf("Gaussian line: ripple RMS %g (want 0), σ %g (want 0.01), half-width %g (want 0.05)", th.RMS, th.Sigma, th.Half)
	}
	// The probe at ±0.1×0.05 sees the ripple too, so the half-width is
	// only roughly 5σ; the ripple measurement does not depend on it.
	if math.Abs(e1.RMS/(amp/math.Sqrt2)-1) > 0.1 || e1.Max < 0.85*amp || e1.Max > 1.15*amp {
		t.Errorf("rippled line (half-width %g): RMS %.4f, max %.4f; want ≈ %.4f and ≈ %.2f", e1.Half, e1.RMS, e1.Max, amp/math.Sqrt2, amp)
	}
	if res.Evaluations != 1+2*2+2*201 {
		t.Errorf("%d evaluations, want %d", res.Evaluations, 1+2*2+2*201)
	}
	if _, err := Scan(context.Background(), o, []float64{1, 0}, ScanOptions{Points: 8}); err == nil {
		t.Error("an even number of points was accepted")
	}
}

// TestSmoothGRFInterpolatedVariance: the prior variance of a bilinearly
// interpolated source value, wᵀΣ₀w, as the point moves from a pixel centre
// to the middle of four: under N(0, I) it falls from 1 to ¼ (Σw²), the
// modulation that makes the evidence ripple as rays cross the grid; under
// SmoothGRF(ℓ = 2) it stays within 12 % of its value at the centre
// (analytic for a Gaussian kernel without the floor: (4 + 8e^{−1/8} +
// 4e^{−1/4})/16 = 0.8853 midway), and the pixel variance is 1.
func TestSmoothGRFInterpolatedVariance(t *testing.T) {
	const n = 32
	g, err := SmoothGRF(n, 2)
	if err != nil {
		t.Fatal(err)
	}
	c := circulantKernel(g.Spectrum(), n, n, func(v float64) float64 { return v })
	cov := func(dx, dy int) float64 { return c[((dy+n)%n)*n+(dx+n)%n] }
	if math.Abs(cov(0, 0)-1) > 1e-12 {
		t.Errorf("pixel variance %g, want 1", cov(0, 0))
	}
	if want := math.Exp(-1.0 / 8); math.Abs(cov(1, 0)-want) > 1e-4 {
		t.Errorf("neighbour covariance %g, want e^{−1/8} = %g", cov(1, 0), want)
	}
	varAt := func(fx, fy float64, k func(dx, dy int) float64) float64 {
		w := [4]float64{(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy}
		off := [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}}
		var v float64
		for a := range w {
			for b := range w {
				v += w[a] * w[b] * k(off[a][0]-off[b][0], off[a][1]-off[b][1])
			}
		}
		return v
	}
	white := func(dx, dy int) float64 {
		if dx == 0 && dy == 0 {
			return 1
		}
		return 0
	}
	if v := varAt(0.5, 0.5, white); math.Abs(v-0.25) > 1e-15 {
		t.Errorf("white prior midway: %g, want 1/4", v)
	}
	mid := varAt(0.5, 0.5, cov)
	if want := (4 + 8*math.Exp(-1.0/8) + 4*math.Exp(-1.0/4)) / 16; math.Abs(mid-want) > 1e-4 {
		t.Errorf("smooth prior midway: %g, want %g", mid, want)
	}
	if mid < 0.88 {
		t.Errorf("smooth prior: variance midway %g of the centre's 1, want ≥ 0.88", mid)
	}
}

// TestSmoothPriorReducesRipplesJ2303: on a 32×32 cut-out at 0.2″ of SLACS
// J2303+1422 (the arcs' annulus 0.6–2.8″, a 24² source of 0.067″), scans
// through the committed MAP lens along θ_E, e1, e2, γ1, γ2 (21 points over
// ±5 conditional σ, each prior at its type-II maximum-likelihood
// amplitude) find ripples of RMS ≈ 0.4 log units under the isotropic
// Gaussian prior and at least 2 times less under SmoothGRF of 2 pixels. (Along the centre the smooth prior does not
// help: docs/lens-fitting.md.)
func TestSmoothPriorReducesRipplesJ2303(t *testing.T) {
	dir := ""
	wd, _ := os.Getwd()
	for range 6 {
		p := filepath.Join(wd, "shared", "data", "reallens", "slacs2303+1422")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			dir = p
			break
		}
		wd = filepath.Dir(wd)
	}
	if dir == "" {
		t.Skip("shared/data/reallens not found beside the repository")
	}
	ob, _, err := obsimport.Import(obsimport.Options{Image: filepath.Join(dir, "image_lens_subtracted.fits"), HDU: -1, NoiseMap: filepath.Join(dir, "noise_map.fits"),
		PSF: filepath.Join(dir, "psf.fits"), PixelScale: 0.05, NPix: 32, Rebin: 4, PSFFlux: 0.95, Annulus: &[2]float64{0.6, 2.8}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := lens.Config{Obs: lens.Grid{N: 32, Scale: ob.PixelScale}, Src: lens.Grid{N: 24, Scale: 0.067}, Supersample: 2, PSF: ob.PSF}
	d := Data{Y: ob.Image, SigmaN: ob.Sigma(), Keep: ob.Keep}
	mapLens := lens.Params{1.6371879, 0.0451151, 0.2857508, -0.0321290, -0.0147407, -0.0175561, 0.0285830}
	iso, err := posterior.NewIsoGaussian(make([]float64, 24*24), 1, sigmaOne)
	if err != nil {
		t.Fatal(err)
	}
	smooth, err := SmoothGRF(24, 2)
	if err != nil {
		t.Fatal(err)
	}
	rms := map[string]float64{}
	for _, c := range []struct {
		name  string
		prior posterior.GaussianPrior
	}{{"iso", iso}, {"smooth", smooth}} {
		ev, err := NewEvidence(cfg, d, c.prior)
		if err != nil {
			t.Fatal(err)
		}
		h, err := OptimiseHyper(context.Background(), ev, c.prior, mapLens, nil, nil, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		o, err := NewObjective(ev, lens.DefaultPriors(3.2), mapLens, false, h.Log10Scale)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Scan(context.Background(), o, o.Pack(mapLens, h.Log10Scale), ScanOptions{Points: 21, Params: []int{0, 1, 2, 5, 6}})
		if err != nil {
			t.Fatal(err)
		}
		rms[c.name] = res.RMS
		t.Logf("%s: log10 a %.3f, log evidence %.2f, ripple RMS %.3f, max %.3f", c.name, h.Log10Scale, h.LogEvidence, res.RMS, res.Max)
	}
	if !(rms["smooth"]*2 <= rms["iso"]) {
		t.Errorf("ripple RMS %.3f under the smooth prior, %.3f under the isotropic one: want at least 2 times smaller", rms["smooth"], rms["iso"])
	}
}
