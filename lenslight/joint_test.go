package lenslight

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/lensfit"
	"github.com/lenscore/lenscore/posterior"
)

// TestRefineJointRecoversLight simulates a lens galaxy (one Sérsic plus
// sky) whose light overlaps a lensed arc, starts the joint refinement from
// wrong shapes and checks that maximising the evidence with the source
// integrated out (through lensfit at the true lens) recovers the light's
// shape, with no pixel masked.
func TestRefineJointRecoversLight(t *testing.T) {
	g := lens.Grid{N: 22, Scale: 0.12}
	psf, err := lens.GaussianPSF(0.15, g.Scale, 0)
	if err != nil {
		t.Fatal(err)
	}
	truth := lens.Sersic{Amp: 1, RSersic: 0.5, NSersic: 2.5, Q: 0.7, Phi: 0.5, CenterX: 0.03, CenterY: -0.02}
	tm, err := Templates([]lens.Sersic{truth}, g, psf, 2)
	if err != nil {
		t.Fatal(err)
	}
	mass := lens.Composite{lens.SIE{ThetaE: 0.8, Q: 0.8, Phi: 0.3, CenterX: 0.03, CenterY: -0.02}}
	src := lens.Sersic{Amp: 1.2, RSersic: 0.08, NSersic: 1, Q: 0.9, Phi: 0, CenterX: 0.1, CenterY: 0.05}
	arcRaw := lens.LensedImage(mass, src, g, 3)
	arc := make([]float64, len(arcRaw))
	psf.Convolve(arc, arcRaw, g.N)
	const sigma, amp, sky = 0.02, 2.0, 0.01
	rng := rand.New(rand.NewPCG(3, 4))
	y := make([]float64, g.N*g.N)
	for i := range y {
		y[i] = amp*tm[0][i] + arc[i] + sky + sigma*rng.NormFloat64()
	}
	n := 12
	cfg := lens.Config{Obs: g, Src: lens.Grid{N: n, Scale: 0.08}, Supersample: 2, PSF: psf}
	iso, err := posterior.NewIsoGaussian(make([]float64, n*n), 1, func(float64) float64 { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	ev, err := lensfit.NewEvidence(cfg, lensfit.Data{Y: y, SigmaN: []float64{sigma}}, iso)
	if err != nil {
		t.Fatal(err)
	}
	comps := make([]lensfit.Component, 2)
	evf := func(tp [][]float64) (float64, error) {
		for i := range comps {
			comps[i] = lensfit.Component{Image: tp[i], Sigma: 1e3}
		}
		return ev.LogEvidence(mass, math.Log(0.3), comps)
	}
	start := lens.Sersic{Amp: 1, RSersic: 0.8, NSersic: 4, Q: 0.9, Phi: 0.1, CenterX: 0, CenterY: 0}
	res, err := RefineJoint([]lens.Sersic{start}, g, psf, evf, JointOptions{Sky: true, MaxEval: 500})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Profiles[0]
	t.Logf("log evidence %.1f → %.1f in %d evaluations; %+v", res.Start, res.LogEvidence, res.Evals, got)
	if !(res.LogEvidence > res.Start+100) {
		t.Errorf("log evidence %.1f → %.1f: no real improvement", res.Start, res.LogEvidence)
	}
	if math.Abs(got.RSersic/truth.RSersic-1) > 0.1 || math.Abs(got.NSersic-truth.NSersic) > 0.4 || math.Abs(got.Q-truth.Q) > 0.04 ||
		math.Abs(math.Remainder(got.Phi-truth.Phi, math.Pi)) > 0.08 || math.Hypot(got.CenterX-truth.CenterX, got.CenterY-truth.CenterY) > 0.02 {
		t.Errorf("refined %+v, truth %+v", got, truth)
	}
	// The templates returned are those of the refined shapes.
	want, err := Templates(res.Profiles, g, psf, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want[0] {
		if math.Abs(res.Templates[0][i]-want[0][i]) > 1e-12 || res.Templates[1][i] != 1 {
			t.Fatalf("template pixel %d: %g (sky %g), want %g (1)", i, res.Templates[0][i], res.Templates[1][i], want[0][i])
		}
	}
}
