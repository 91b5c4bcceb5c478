package posterior

import (
	"math"
	"math/rand/v2"
	"testing"
)

// projectedProblem is newProblem with a GRF prior and the projected
// likelihood whose proxy is that prior.
func projectedProblem(t *testing.T) (*problem, *GRF, *Projected) {
	t.Helper()
	p := newProblem(t, true, 0.1)
	grf := p.prior.(*GRF)
	pl, err := NewProjected(p.op, p.y, p.sn, nil, grf, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	return p, grf, pl
}

// For a GRF prior used as its own proxy, the Projected likelihood is the
// exact time-t likelihood score, which Exact computes independently
// (∇log p_t(x|y) − ∇log p_t(x) from dense eigendecompositions): both
// through ScoreGivenPrior with the prior's score and through Score.
func TestProjectedExactForGRF(t *testing.T) {
	p, grf, tw := projectedProblem(t)
	n := grf.Dim()
	r := rand.New(rand.NewPCG(9, 10))
	x := make([]float64, n)
	for i := range x {
		x[i] = 0.5 + r.NormFloat64()
	}
	want, got, got2, ps := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	es := make([]float64, p.exact.ScratchLen())
	ts := make([]float64, tw.ScratchLen())
	for _, tt := range []float64{0.02, 0.3, 0.6, 1} {
		p.exact.Score(want, x, tt, es)
		if err := grf.Score(ps, x, 1, tt); err != nil {
			t.Fatal(err)
		}
		tw.ScoreGivenPrior(got, x, ps, tt, ts)
		tw.Score(got2, x, tt, ts)
		var worst, scale float64
		for i := range want {
			worst = max(worst, math.Abs(got[i]-want[i]), math.Abs(got2[i]-want[i]))
			scale = max(scale, math.Abs(want[i]))
		}
		if worst > 2e-4*scale {
			t.Errorf("t=%g: |projected − exact| = %.3g (scale %.3g)", tt, worst, scale)
		}
	}
	if it := tw.MeanIterations(); it < 1 || it > 100 {
		t.Errorf("mean CG iterations %g", it)
	}
	// An odd, non-square grid (9 × 7: half spectra without a Nyquist
	// column) and a random operator.
	const nx, ny = 9, 7
	g2, err := NewGRF(nx, ny, 0.2, powerLaw(nx, ny, 1, 1.5), testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	op := randomOp(40, nx*ny, 4)
	x0 := make([]float64, nx*ny)
	Draw(x0, g2, r)
	y := make([]float64, 40)
	op.Apply(y, x0)
	for i := range y {
		y[i] += 0.05 * r.NormFloat64()
	}
	inv, err := Invert(op, y, []float64{0.05}, g2, InvertOptions{Scale: 1, FullCov: true})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := NewExact(&Gaussian{Mean: inv.Mean, Cov: inv.Cov}, g2, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	tw2, err := NewProjected(op, y, []float64{0.05}, nil, g2, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	tw2.tol = 1e-12 // compare the formulas, not the CG tolerance
	x2, w2, got3 := make([]float64, nx*ny), make([]float64, nx*ny), make([]float64, nx*ny)
	for i := range x2 {
		x2[i] = x0[i] + 0.3*r.NormFloat64()
	}
	for _, tt := range []float64{0.05, 0.5, 0.9} {
		ex.Score(w2, x2, tt, make([]float64, ex.ScratchLen()))
		tw2.Score(got3, x2, tt, make([]float64, tw2.ScratchLen()))
		var worst, scale float64
		for i := range w2 {
			worst = max(worst, math.Abs(got3[i]-w2[i]))
			scale = max(scale, math.Abs(w2[i]))
		}
		if worst > 1e-8*scale {
			t.Errorf("9×7 grid, t=%g: |projected − exact| = %.3g (scale %.3g)", tt, worst, scale)
		}
	}
}

// Sampling a GRF posterior with the Projected likelihood is calibrated: the
// sample mean and per-pixel variance match the exact posterior (the same
// check as the exact likelihood passes, checkExact).
func TestProjectedSamplerCalibrated(t *testing.T) {
	p, _, tw := projectedProblem(t)
	opt := Options{Seed: 3, Chains: 200}
	if !checkExact(t, p, tw, opt, 0.05) {
		t.Error("projected-likelihood samples do not match the exact posterior")
	}
	t.Logf("mean CG iterations %.1f", tw.MeanIterations())
}

// The projected likelihood's score allocates nothing in steady state (its
// FFT state comes from a pool, its vectors from the caller's scratch).
func TestProjectedNoAlloc(t *testing.T) {
	_, grf, tw := projectedProblem(t)
	n := grf.Dim()
	x, ps, dst := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = 0.5 + 0.1*float64(i%7)
	}
	scratch := make([]float64, tw.ScratchLen())
	if err := grf.Score(ps, x, 1, 0.4); err != nil {
		t.Fatal(err)
	}
	tw.ScoreGivenPrior(dst, x, ps, 0.4, scratch)
	if a := testing.AllocsPerRun(20, func() { tw.ScoreGivenPrior(dst, x, ps, 0.4, scratch) }); a != 0 {
		t.Errorf("ScoreGivenPrior allocates %g times per call", a)
	}
}
