package mcmc

import (
	"math"
	"testing"
)

// ridgeGaussian returns a d-dimensional Gaussian target whose parameters
// all correlate with ρ (a long, nearly straight ridge along the diagonal
// when ρ → 1, as the lens posterior under a correlated source prior), its
// covariance, and its "Laplace approximation" from the Hessian's diagonal
// alone (widths σ_i √(1−ρ)·…, the conditional widths: far narrower than
// the marginal ones along the ridge).
func ridgeGaussian(d int, rho float64, sd []float64) (LogDensity, func(i, j int) float64, Proposal) {
	cov := func(i, j int) float64 {
		if i == j {
			return sd[i] * sd[i]
		}
		return rho * sd[i] * sd[j]
	}
	c := make([][]float64, d)
	for i := range c {
		c[i] = make([]float64, d)
		for j := 0; j <= i; j++ {
			c[i][j] = cov(i, j)
		}
	}
	l, err := Cholesky(c)
	if err != nil {
		panic(err)
	}
	logp := func(x []float64) float64 {
		var r2 float64
		z := make([]float64, d)
		for i := 0; i < d; i++ {
			s := x[i]
			for k := 0; k < i; k++ {
				s -= l[i][k] * z[k]
			}
			z[i] = s / l[i][i]
			r2 += z[i] * z[i]
		}
		return -0.5 * r2
	}
	// Conditional width of x_i given the others: 1/sqrt((Σ⁻¹)_ii); for
	// equicorrelation (Σ⁻¹)_ii = (1 + (d−2)ρ)/((1−ρ)(1 + (d−1)ρ)) / σ_i².
	lap := Proposal{Mean: make([]float64, d), L: make([][]float64, d)}
	for i := range lap.L {
		lap.L[i] = make([]float64, d)
		lap.L[i][i] = sd[i] * math.Sqrt((1-rho)*(1+float64(d-1)*rho)/(1+float64(d-2)*rho))
	}
	return logp, cov, lap
}

// maxRHat returns the largest split-R̂ over the parameters of chains
// ([param][chain][t]).
func maxRHat(chains [][][]float64) float64 {
	m := 0.0
	for _, c := range chains {
		r, _ := SplitRHat(c)
		m = math.Max(m, r)
	}
	return m
}

// TestChainsDERidgeGaussian: a 6-D Gaussian whose parameters (scales 0.01
// to 3) all correlate with ρ = 0.995, a long straight ridge, sampled from
// its diagonal Laplace approximation (conditional widths 12 times narrower
// than the marginal ones along the ridge). With differential-evolution
// moves (PDE ½) the chains recover the mean and covariance within Monte
// Carlo error; with the Laplace-built moves alone, in the same budget (8
// chains, 100 + 2500 steps, the proposal adapted to the burn-in), they do
// not converge (R̂ > 1.3: they creep along the ridge).
func TestChainsDERidgeGaussian(t *testing.T) {
	sd := []float64{1, 0.01, 3, 0.5, 2, 0.1}
	logp, cov, lap := ridgeGaussian(len(sd), 0.995, sd)
	chains, acc := runChainsOpt(t, logp, lap, MHOptions{PDE: 0.5}, 8, 100, 2500, 7)
	t.Logf("DE: acceptance %.2f, max R̂ %.4f", acc, maxRHat(chains))
	checkMoments(t, chains, make([]float64, len(sd)), cov)
	plain, acc0 := runChainsOpt(t, logp, lap, MHOptions{}, 8, 100, 2500, 7)
	r := maxRHat(plain)
	t.Logf("without DE: acceptance %.2f, max R̂ %.4f", acc0, r)
	if r < 1.3 {
		t.Errorf("without DE moves max R̂ %.3f: the test target is not hard enough to show the difference", r)
	}
}

// TestChainsDEOnly: differential-evolution moves alone (PDE 1, 10 chains)
// leave a correlated 4-D Gaussian invariant: its mean and covariance are
// recovered within Monte Carlo error (a wrong acceptance ratio or a
// proposal that is not symmetric would bias them).
func TestChainsDEOnly(t *testing.T) {
	sd := []float64{0.5, 2, 0.05, 1}
	logp, cov, lap := ridgeGaussian(len(sd), 0.9, sd)
	mu := []float64{1, -3, 0.2, 0}
	shifted := func(x []float64) float64 {
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i] - mu[i]
		}
		return logp(y)
	}
	lap.Mean = mu
	chains, acc := runChainsOpt(t, shifted, lap, MHOptions{PDE: 1}, 10, 200, 6000, 11)
	t.Logf("acceptance %.2f", acc)
	checkMoments(t, chains, mu, cov)
}

// bentRidge returns the 6-D ridge Gaussian bent into a parabola,
// x_0 = z_0, x_i = z_i + κ σ_i (z_0/σ_0)² (a shear of unit Jacobian), its
// exact mean and covariance, and the ridge's diagonal Laplace proposal
// (at the mode, 0). With u = z_0/σ_0 ~ N(0, 1): E x_i = κσ_i,
// Var x_i = σ_i²(1 + 2κ²), Cov(x_i, x_j) = σ_iσ_j(ρ + 2κ²) and
// Cov(x_0, x_i) = ρσ_0σ_i (E u³ = 0).
func bentRidge(rho, kappa float64, sd []float64) (LogDensity, []float64, func(i, j int) float64, Proposal) {
	d := len(sd)
	base, _, lap := ridgeGaussian(d, rho, sd)
	z := make([]float64, d)
	logp := func(x []float64) float64 {
		u := x[0] / sd[0]
		z[0] = x[0]
		for i := 1; i < d; i++ {
			z[i] = x[i] - kappa*sd[i]*u*u
		}
		return base(z)
	}
	mu := make([]float64, d)
	for i := 1; i < d; i++ {
		mu[i] = kappa * sd[i]
	}
	cov := func(i, j int) float64 {
		switch {
		case i == j && i == 0:
			return sd[0] * sd[0]
		case i == j:
			return sd[i] * sd[i] * (1 + 2*kappa*kappa)
		case i == 0 || j == 0:
			return rho * sd[i] * sd[j]
		}
		return sd[i] * sd[j] * (rho + 2*kappa*kappa)
	}
	return logp, mu, cov, lap
}

// TestChainsDEBentRidge: the ridge bent into a parabola (ρ = 0.98, the
// bend κ = 0.1 marginal standard deviations at 1σ along the ridge, 1.4
// ridge widths), sampled from the straight ridge's diagonal Laplace
// approximation, which is off in both width and shape. With DE moves
// (PDE ½) the chains converge (R̂ < 1.03) and recover the mean and the
// marginal variances (within 5 Monte Carlo standard errors and 20 %); with
// the Laplace-built moves alone, in the same budget (8 chains, 100 + 1500
// steps), they do not (R̂ > 1.2).
func TestChainsDEBentRidge(t *testing.T) {
	sd := []float64{1, 0.01, 3, 0.5, 2, 0.1}
	logp, mu, cov, lap := bentRidge(0.98, 0.1, sd)
	chains, acc := runChainsOpt(t, logp, lap, MHOptions{PDE: 0.5}, 8, 100, 1500, 7)
	r := maxRHat(chains)
	t.Logf("DE: acceptance %.2f, max R̂ %.4f", acc, r)
	if r > 1.03 {
		t.Errorf("with DE moves max R̂ %.3f", r)
	}
	for i := range chains {
		var flat []float64
		for _, c := range chains[i] {
			flat = append(flat, c...)
		}
		_, ess, _ := AutocorrTime(chains[i])
		m := mean(flat)
		var v float64
		for _, x := range flat {
			v += (x - m) * (x - m) / float64(len(flat)-1)
		}
		if se := math.Sqrt(cov(i, i) / ess); math.Abs(m-mu[i]) > 5*se {
			t.Errorf("mean[%d] = %g, want %g ± %g", i, m, mu[i], se)
		}
		if math.Abs(v/cov(i, i)-1) > 0.2 {
			t.Errorf("var[%d] = %g, want %g", i, v, cov(i, i))
		}
	}
	plain, acc0 := runChainsOpt(t, logp, lap, MHOptions{}, 8, 100, 1500, 7)
	r0 := maxRHat(plain)
	t.Logf("without DE: acceptance %.2f, max R̂ %.4f", acc0, r0)
	if r0 < 1.2 {
		t.Errorf("without DE moves max R̂ %.3f: the test target is not hard enough to show the difference", r0)
	}
}

// TestChainsDEResume: with DE moves, saving and restoring mid-run gives
// the chains of an uninterrupted run bit for bit.
func TestChainsDEResume(t *testing.T) {
	sd := []float64{1, 0.01, 3}
	logp, _, lap := ridgeGaussian(3, 0.99, sd)
	start := [][]float64{{0.1, 0, 0}, {0, 0.001, 0.2}, {-0.1, 0, 0}, {0, -0.001, -0.2}, {0.05, 0, 0.1}}
	opt := MHOptions{PDE: 0.6}
	a, err := NewChains(logp, start, lap, opt, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewChains(logp, start, lap, opt, 5, 2)
	for s := 0; s < 80; s++ {
		a.Step()
	}
	for s := 0; s < 33; s++ {
		b.Step()
	}
	b2, err := RestoreChains(logp, b.Save(), opt)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < 47; s++ {
		b2.Step()
	}
	for k := range start {
		for i, v := range a.Walker(k) {
			if b2.Walker(k)[i] != v || b2.LogProb(k) != a.LogProb(k) {
				t.Fatalf("chain %d differs after resume: %v vs %v", k, b2.Walker(k), a.Walker(k))
			}
		}
	}
	if ad, bd := a.AcceptanceDE(), b2.AcceptanceDE(); ad != bd || !(ad > 0) {
		t.Errorf("DE acceptance %g vs %g", bd, ad)
	}
	if _, err := NewChains(logp, start[:2], lap, opt, 5, 2); err == nil {
		t.Error("DE moves with 2 chains accepted")
	}
}
