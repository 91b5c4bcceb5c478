package posterior

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// problem is a small lensing problem with a Gaussian prior and its exact
// posterior: an 8×8 source seen through lensOp on a 10×10 image.
type problem struct {
	op    *denseOp
	y, sn []float64
	prior GaussianPrior
	inv   *Inversion
	exact *Exact
}

func newProblem(t testing.TB, grf bool, sn float64) *problem {
	ns, ni := 8, 10
	op := lensOp(ns, ni, 0.45, 1.1, 0.8)
	n := ns * ns
	var prior GaussianPrior
	if grf {
		prior, _ = NewGRF(ns, ns, 0.5, powerLaw(ns, ns, 1.5, 1.5), testVE.Sigma)
	} else {
		mu := make([]float64, n)
		for i := range mu {
			mu[i] = 0.5
		}
		prior, _ = NewIsoGaussian(mu, 1, testVE.Sigma)
	}
	r := rand.New(rand.NewPCG(21, 22))
	x := make([]float64, n)
	Draw(x, prior, r)
	y := make([]float64, ni*ni)
	op.Apply(y, x)
	for i := range y {
		y[i] += sn * r.NormFloat64()
	}
	inv, err := Invert(op, y, []float64{sn}, prior, InvertOptions{Scale: 1, FullCov: true})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := NewExact(&Gaussian{Mean: inv.Mean, Cov: inv.Cov}, prior, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	return &problem{op: op, y: y, sn: []float64{sn}, prior: prior, inv: inv, exact: ex}
}

// checkExact runs the sampler and compares with the exact posterior. The
// mean test rejects when K(m−μ)ᵀΣ⁻¹(m−μ) exceeds the χ²_N quantile at
// false-alarm rate 1e-3. The variance test compares the mean per-pixel
// variance ratio with the ratio the Euler–Maruyama recursion predicts for
// this step count (exact for a Gaussian target), rejecting beyond 4 standard
// errors (false-alarm ≈ 6e-5), and requires the predicted discretisation
// bias |ratio_EM − 1| ≤ tol. It returns whether both tests accept.
func checkExact(t *testing.T, p *problem, lik Likelihood, opt Options, tol float64, h ...hooks) bool {
	t.Helper()
	var hk hooks
	if len(h) > 0 {
		hk = h[0]
	}
	res, err := sample(context.Background(), p.prior, lik, testVE, opt, hk)
	if err != nil {
		t.Fatal(err)
	}
	st := computeStats(t, res.Samples, p.inv.Mean, p.inv.Cov)
	eps := opt.Eps
	if eps == 0 {
		eps = DefaultEps
	}
	vEM, _ := emVariance(p.inv.Cov, p.inv.Mean, testVE, res.Steps, eps)
	var rEM float64
	for i, v := range vEM {
		rEM += v / p.inv.Cov.At(i, i) / float64(len(vEM))
	}
	okMean := st.chi2 <= st.chi2Crit
	okVar := math.Abs(st.varRatio-rEM) <= 4*st.varSE && math.Abs(rEM-1) <= tol
	t.Logf("steps=%d chains=%d: χ²=%.1f (crit %.1f, N=%d); var ratio %.4f ± %.4f, EM-predicted %.4f; NFE=%d prior %v other %v",
		res.Steps, len(res.Samples), st.chi2, st.chi2Crit, len(p.inv.Mean), st.varRatio, st.varSE, rEM, res.NFE, res.PriorTime, res.OtherTime)
	return okMean && okVar
}

func TestEMMatchesExactPosterior(t *testing.T) {
	for _, grf := range []bool{false, true} {
		p := newProblem(t, grf, 0.1)
		// auto step count: predicted discretisation bias must stay below 5%.
		if !checkExact(t, p, p.exact, Options{Seed: 1, Chains: 1000}, 0.05) {
			t.Errorf("grf=%v: auto-step EM samples do not match the exact posterior", grf)
		}
		// 40 steps: a visible but predicted bias (tolerance 30%).
		if !checkExact(t, p, p.exact, Options{Seed: 2, Chains: 1000, Steps: 40}, 0.3) {
			t.Errorf("grf=%v: 40-step EM samples do not match the EM-predicted distribution", grf)
		}
	}
}

func TestBrokenSamplersAreRejected(t *testing.T) {
	p := newProblem(t, false, 0.1)
	cases := []struct {
		name string
		lik  Likelihood
		h    hooks
	}{
		{"no likelihood", nil, hooks{}},
		{"2×g² drift", p.exact, hooks{g2: 2}},
		{"1.3×noise", p.exact, hooks{noise: 1.3}},
	}
	for _, c := range cases {
		if checkExact(t, p, c.lik, Options{Seed: 3, Chains: 300}, 0.05, c.h) {
			t.Errorf("%s: broken sampler passed the posterior test", c.name)
		}
	}
}
