package lensfit

import (
	"context"
	"math"
	"testing"

	"github.com/lenscore/lenscore/lens"
)

// TestFitNearLaplace: with θ_E and e1 free (amplitude fixed) on the small
// problem, FitNear from the truth finds the maximum and Laplace widths that
// agree with the mean and standard deviations of the posterior integrated
// on a grid (brute force), which is nearly Gaussian here.
func TestFitNearLaplace(t *testing.T) {
	cfg, d, g, truth := smallProblem(t, 20, 8)
	ev, err := NewEvidence(cfg, d, g)
	if err != nil {
		t.Fatal(err)
	}
	pr := lens.DefaultPriors(1.2)
	for i := range pr.P {
		pr.P[i].Fixed = i != lens.PThetaE && i != lens.PE1
	}
	o, err := NewObjective(ev, pr, truth, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := FitNear(context.Background(), o, o.Pack(truth, 0))
	if err != nil {
		t.Fatal(err)
	}
	if lf.Cov == nil || len(lf.SD) != 2 {
		t.Fatalf("Laplace covariance %v, sd %v", lf.Cov, lf.SD)
	}
	// Brute force: the posterior on a 21×21 grid of ±4 Laplace widths.
	const n, c, h = 21, 10, 0.4
	var w, m0, m1, s00, s11 float64
	logp := make([]float64, n*n)
	best := math.Inf(-1)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			x := []float64{lf.MAP[0] + lf.SD[0]*(float64(i)-c)*h, lf.MAP[1] + lf.SD[1]*(float64(j)-c)*h}
			logp[i*n+j] = o.LogPost(x)
			best = math.Max(best, logp[i*n+j])
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			x0, x1 := lf.MAP[0]+lf.SD[0]*(float64(i)-c)*h, lf.MAP[1]+lf.SD[1]*(float64(j)-c)*h
			p := math.Exp(logp[i*n+j] - best)
			w += p
			m0 += p * x0
			m1 += p * x1
			s00 += p * x0 * x0
			s11 += p * x1 * x1
		}
	}
	m0, m1 = m0/w, m1/w
	sd0, sd1 := math.Sqrt(s00/w-m0*m0), math.Sqrt(s11/w-m1*m1)
	if best > lf.LogPost+0.05 {
		t.Errorf("the grid found log p %g above the maximum %g", best, lf.LogPost)
	}
	// The mean lies ≈ 0.2σ from the mode in θ_E (a slightly skewed posterior).
	if math.Abs(m0-lf.MAP[0]) > 0.3*sd0 || math.Abs(m1-lf.MAP[1]) > 0.3*sd1 {
		t.Errorf("posterior mean (%g, %g), maximum (%g, %g), widths (%g, %g)", m0, m1, lf.MAP[0], lf.MAP[1], sd0, sd1)
	}
	// The peak curvature and the global width differ by the posterior's
	// departure from a Gaussian (≈ 7–13 % here, measured).
	if r0, r1 := lf.SD[0]/sd0, lf.SD[1]/sd1; math.Abs(r0-1) > 0.2 || math.Abs(r1-1) > 0.2 {
		t.Errorf("Laplace widths (%g, %g), brute force (%g, %g)", lf.SD[0], lf.SD[1], sd0, sd1)
	}
	if lf.Evaluations != o.Evals-n*n {
		t.Errorf("%d evaluations reported, the objective counted %d", lf.Evaluations, o.Evals-n*n)
	}
	if _, err := FitNear(context.Background(), o, []float64{1}); err == nil {
		t.Error("a start of the wrong size was accepted")
	}
	// MaximiseNear: from FitNear's start, the same path and maximum without
	// the Laplace approximation's evaluations; from 2σ off in θ_E, the same
	// maximum up to the evidence's ripples (log p within 0.05, 0.5σ; the
	// start is 2 log units below).
	x, f, evals, err := MaximiseNear(context.Background(), o, o.Pack(truth, 0))
	if err != nil {
		t.Fatal(err)
	}
	if x[0] != lf.MAP[0] || x[1] != lf.MAP[1] || f != lf.LogPost || evals >= lf.Evaluations {
		t.Errorf("MaximiseNear: %v (log p %g, %d evaluations), FitNear: %v (log p %g, %d)", x, f, evals, lf.MAP, lf.LogPost, lf.Evaluations)
	}
	e0 := o.Evals
	x, f, evals, err = MaximiseNear(context.Background(), o, []float64{lf.MAP[0] + 2*lf.SD[0], lf.MAP[1]})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(x[0]-lf.MAP[0]) > 0.5*lf.SD[0] || math.Abs(x[1]-lf.MAP[1]) > 0.5*lf.SD[1] || f < lf.LogPost-0.05 || evals != o.Evals-e0 {
		t.Errorf("MaximiseNear from 2σ: %v (log p %g, %d evaluations of %d), FitNear's maximum %v (log p %g)", x, f, evals, o.Evals-e0, lf.MAP, lf.LogPost)
	}
}
