package experiment

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/posterior"
	"github.com/lenscore/lenscore/sde"
)

// FitProxy recovers the power spectrum and mean of a known GRF from its
// exact draws (every mode within the sampling error of an average of
// |Gaussian|², 4/√draws), and a white field's spectrum is flat at its
// variance.
func TestFitProxy(t *testing.T) {
	ve := sde.VE{SigmaMin: 1e-3, SigmaMax: 10}
	const side = 8
	p := make([]float64, side*side)
	for ky := 0; ky < side; ky++ {
		for kx := 0; kx < side; kx++ {
			fx, fy := float64(min(kx, side-kx)), float64(min(ky, side-ky))
			p[ky*side+kx] = 2 / (1 + fx*fx + fy*fy)
		}
	}
	g, err := posterior.NewGRF(side, side, 0.7, p, ve.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	const draws = 4000
	imgs := make([][]float64, draws)
	for j := range imgs {
		imgs[j] = make([]float64, side*side)
		posterior.Draw(imgs[j], g, r)
	}
	fit, err := FitProxy(imgs, side, ve.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	if m := fit.Mean()[0]; math.Abs(m-0.7) > 0.02 {
		t.Errorf("mean %g want 0.7", m)
	}
	for k, want := range g.Spectrum() {
		if k == 0 {
			continue // the fitted mean absorbs the k = 0 mode
		}
		if got := fit.Spectrum()[k]; math.Abs(got/want-1) > 4*2/math.Sqrt(draws) {
			t.Errorf("P[%d] = %g want %g", k, got, want)
		}
	}
	if _, err := FitProxy([][]float64{make([]float64, 3)}, side, ve.Sigma); err == nil {
		t.Error("wrong image size accepted")
	}
	if _, err := FitProxy([][]float64{make([]float64, side*side)}, side, ve.Sigma); err == nil {
		t.Error("constant images (zero spectrum) accepted")
	}
}
