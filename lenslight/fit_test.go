package lenslight

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/lens"
)

// TestTemplatesAreConvolutions checks the identity-lens operator trick:
// a template equals the rendered profile convolved with PSF.Convolve.
func TestTemplatesAreConvolutions(t *testing.T) {
	g := lens.Grid{N: 24, Scale: 0.05}
	psf, err := lens.GaussianPSF(0.12, g.Scale, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := lens.Sersic{Amp: 3, RSersic: 0.2, NSersic: 2, Q: 0.7, Phi: 0.4, CenterX: 0.03, CenterY: -0.02}
	tm, err := Templates([]lens.Sersic{s}, g, psf, 2)
	if err != nil {
		t.Fatal(err)
	}
	p := &problem{g: g, super: 2, raw: make([]float64, g.N*g.N)}
	s.Amp = 1
	p.render(s)
	want := make([]float64, g.N*g.N)
	psf.Convolve(want, p.raw, g.N)
	for i := range want {
		if math.Abs(tm[0][i]-want[i]) > 1e-12*(1+math.Abs(want[i])) {
			t.Fatalf("pixel %d: %g, want %g", i, tm[0][i], want[i])
		}
	}
	// Away from the centre the 2×2 sampling is the Render of package lens
	// (with 8×8 near the centre).
	r2, r8 := lens.Render(s, g, 2), lens.Render(s, g, 8)
	for i := range r2 {
		x, y := g.Coord(i%g.N), g.Coord(i/g.N)
		want := r2[i]
		if math.Abs(x-s.CenterX) < 2*g.Scale && math.Abs(y-s.CenterY) < 2*g.Scale {
			want = r8[i]
		}
		if math.Abs(p.raw[i]-want) > 1e-12*want {
			t.Fatalf("pixel %d: render %g, lens.Render %g", i, p.raw[i], want)
		}
	}
}

// TestFitRecoversLensLight simulates a two-Sérsic elliptical galaxy with a
// lensed arc, a PSF, sky and noise, and checks the fitted profiles, that the
// arcs are masked and kept in the residual, and χ²_ν ≈ 1 elsewhere.
func TestFitRecoversLensLight(t *testing.T) {
	g := lens.Grid{N: 36, Scale: 0.06}
	psf, err := lens.GaussianPSF(0.12, g.Scale, 0)
	if err != nil {
		t.Fatal(err)
	}
	truth := []lens.Sersic{
		{Amp: 2, RSersic: 0.15, NSersic: 3, Q: 0.75, Phi: 0.6, CenterX: 0.02, CenterY: -0.03},
		{Amp: 0.3, RSersic: 0.6, NSersic: 1, Q: 0.6, Phi: 0.5, CenterX: 0.02, CenterY: -0.03},
	}
	tm, err := Templates(truth, g, psf, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Arc: a lensed Sérsic through an SIE, PSF-convolved.
	mass := lens.Composite{lens.SIE{ThetaE: 0.65, Q: 0.8, Phi: 0.3, CenterX: 0.02, CenterY: -0.03}}
	src := lens.Sersic{Amp: 1.5, RSersic: 0.05, NSersic: 1, Q: 0.9, Phi: 0, CenterX: 0.08, CenterY: 0.02}
	arcRaw := lens.LensedImage(mass, src, g, 3)
	arc := make([]float64, len(arcRaw))
	psf.Convolve(arc, arcRaw, g.N)
	const sigma, sky = 0.02, 0.01
	rng := rand.New(rand.NewPCG(1, 2))
	y := make([]float64, g.N*g.N)
	for i := range y {
		y[i] = truth[0].Amp*tm[0][i] + truth[1].Amp*tm[1][i] + arc[i] + sky + sigma*rng.NormFloat64()
	}
	res, err := Fit(y, g, []float64{sigma}, nil, psf, Options{MaxEval: 700})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit: %+v sky %g χ²_ν %.3f (ν %d, %d evaluations)", res.Profiles, res.Sky, res.Chi2Nu, res.Nu, res.Evals)
	// The total lens light (what the residual depends on) is recovered:
	// the model minus the true lens light is within 1σ everywhere.
	// the model minus the true lens light is within 2σ at every fitted
	// pixel and 4σ under the masked arcs (extrapolated there).
	var worst, worstArc float64
	for i := range y {
		d := math.Abs(res.Model[i] - (truth[0].Amp*tm[0][i] + truth[1].Amp*tm[1][i] + sky))
		if res.ArcMask[i] {
			worstArc = math.Max(worstArc, d)
		} else {
			worst = math.Max(worst, d)
		}
	}
	if worst > 2*sigma || worstArc > 4*sigma {
		t.Errorf("lens light model off by up to %.3g at fitted pixels, %.3g under the arcs (σ = %g)", worst, worstArc, sigma)
	}
	c := res.Profiles[0]
	if math.Hypot(c.CenterX-0.02, c.CenterY+0.03) > 0.005 {
		t.Errorf("centre (%.4f, %.4f), want (0.02, −0.03)", c.CenterX, c.CenterY)
	}
	if math.Abs(res.Chi2Nu-1) > 0.1 {
		t.Errorf("χ²_ν %.3f over the unmasked pixels", res.Chi2Nu)
	}
	// The arc's flux is in the residual and its bright pixels are masked.
	var arcFlux, resFlux float64
	masked, bright := 0, 0
	for i := range y {
		if arc[i] > 5*sigma {
			bright++
			arcFlux += arc[i]
			resFlux += res.Residual[i]
			if res.ArcMask[i] {
				masked++
			}
		}
	}
	if bright == 0 || float64(masked) < 0.95*float64(bright) || math.Abs(resFlux/arcFlux-1) > 0.1 {
		t.Errorf("arc: %d of %d bright pixels masked, residual flux %.3g of %.3g", masked, bright, resFlux, arcFlux)
	}
}
