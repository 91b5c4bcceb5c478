package mcmc

import (
	"math"
	"math/rand/v2"
	"testing"
)

// runChains runs M chains from draws of the proposal for burn steps, adapts
// the proposal to the second half of the burn-in (as lensfit does), then
// returns the kept draws as [param][chain][t] and the acceptance.
func runChains(t *testing.T, f LogDensity, prop Proposal, m, burn, steps int, seed uint64) ([][][]float64, float64) {
	t.Helper()
	return runChainsOpt(t, f, prop, MHOptions{}, m, burn, steps, seed)
}

// runChainsOpt is runChains with the given options.
func runChainsOpt(t *testing.T, f LogDensity, prop Proposal, opt MHOptions, m, burn, steps int, seed uint64) ([][][]float64, float64) {
	t.Helper()
	d := len(prop.Mean)
	rng := rand.New(rand.NewPCG(seed, 99))
	var start [][]float64
	for k := 0; k < m; k++ {
		x := make([]float64, d)
		for i := range x {
			x[i] = prop.Mean[i]
			for j := 0; j <= i; j++ {
				x[i] += prop.L[i][j] * rng.NormFloat64()
			}
		}
		start = append(start, x)
	}
	c, err := NewChains(f, start, prop, opt, seed, 1)
	if err != nil {
		t.Fatal(err)
	}
	var late [][]float64
	for s := 0; s < burn; s++ {
		c.Step()
		if s >= burn/2 {
			for k := 0; k < m; k++ {
				late = append(late, append([]float64(nil), c.Walker(k)...))
			}
		}
	}
	p, err := ProposalFromSamples(late)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetProposal(*p); err != nil {
		t.Fatal(err)
	}
	chains := make([][][]float64, d)
	for i := range chains {
		chains[i] = make([][]float64, m)
	}
	for s := 0; s < steps; s++ {
		c.Step()
		for k := 0; k < m; k++ {
			for i, v := range c.Walker(k) {
				chains[i][k] = append(chains[i][k], v)
			}
		}
	}
	a, _, _ := c.Acceptance()
	return chains, a
}

// checkMoments compares the pooled mean and covariance of chains with the
// truth within 4.5 Monte Carlo standard errors (σ/√ESS for a mean; the
// sample standard deviation of the products over √ESS for a covariance),
// and asserts R̂ < 1.02 for every parameter.
func checkMoments(t *testing.T, chains [][][]float64, mu []float64, cov func(i, j int) float64) {
	t.Helper()
	d := len(chains)
	minESS := math.Inf(1)
	flat := make([][]float64, d)
	for i := range chains {
		_, ess, err := AutocorrTime(chains[i])
		if err != nil {
			t.Fatal(err)
		}
		minESS = math.Min(minESS, ess)
		if r, _ := SplitRHat(chains[i]); r > 1.02 {
			t.Errorf("param %d: R̂ %g", i, r)
		}
		for _, c := range chains[i] {
			flat[i] = append(flat[i], c...)
		}
	}
	if minESS < 2000 {
		t.Fatalf("ESS %g too small for the test", minESS)
	}
	n := float64(len(flat[0]))
	for i := 0; i < d; i++ {
		mi := mean(flat[i])
		if se := math.Sqrt(cov(i, i) / minESS); math.Abs(mi-mu[i]) > 4.5*se {
			t.Errorf("mean[%d] = %g, want %g ± %g", i, mi, mu[i], se)
		}
		for j := 0; j <= i; j++ {
			mj := mean(flat[j])
			var c, c2 float64
			for k := range flat[i] {
				p := (flat[i][k] - mi) * (flat[j][k] - mj)
				c += p
				c2 += p * p
			}
			c /= n
			se := math.Sqrt((c2/n - c*c) / minESS)
			if math.Abs(c-cov(i, j)) > 4.5*se {
				t.Errorf("cov[%d][%d] = %g, want %g ± %g", i, j, c, cov(i, j), se)
			}
		}
	}
}

// TestChainsBadlyScaledGaussian: a 4-D Gaussian with scales from 10⁻³ to
// 10 and correlation 0.95 between two of them, sampled from a proposal
// whose mean is off by half a standard deviation and whose widths are off
// by factors 0.7–1.6 (a crude Laplace approximation): the chains recover the
// mean and covariance within Monte Carlo error.
func TestChainsBadlyScaledGaussian(t *testing.T) {
	sd := []float64{1e-3, 10, 0.5, 2}
	mu := []float64{0.3, -40, 2, 0}
	corr := func(i, j int) float64 {
		switch {
		case i == j:
			return 1
		case (i == 0 && j == 1) || (i == 1 && j == 0):
			return 0.95
		case (i == 2 && j == 3) || (i == 3 && j == 2):
			return -0.6
		}
		return 0
	}
	cov := func(i, j int) float64 { return corr(i, j) * sd[i] * sd[j] }
	c := make([][]float64, 4)
	for i := range c {
		c[i] = make([]float64, 4)
		for j := 0; j <= i; j++ {
			c[i][j] = cov(i, j)
		}
	}
	l, err := Cholesky(c)
	if err != nil {
		t.Fatal(err)
	}
	logp := func(x []float64) float64 { // −½ ‖L⁻¹(x − μ)‖²
		var z [4]float64
		var r2 float64
		for i := 0; i < 4; i++ {
			s := x[i] - mu[i]
			for k := 0; k < i; k++ {
				s -= l[i][k] * z[k]
			}
			z[i] = s / l[i][i]
			r2 += z[i] * z[i]
		}
		return -0.5 * r2
	}
	// A crude proposal: diagonal-ish widths off, mean shifted by σ/2.
	bad := make([][]float64, 4)
	f := []float64{0.7, 1.6, 1.3, 0.8}
	for i := range bad {
		bad[i] = make([]float64, 4)
		bad[i][i] = f[i] * sd[i]
	}
	pm := []float64{mu[0] + 0.5*sd[0], mu[1] - 0.5*sd[1], mu[2], mu[3] + 0.5*sd[3]}
	chains, acc := runChains(t, logp, Proposal{Mean: pm, L: bad}, 8, 200, 2500, 4)
	if acc < 0.3 {
		t.Errorf("acceptance %g", acc)
	}
	checkMoments(t, chains, mu, cov)
}

// TestChainsBanana: the twisted Gaussian p(x, y) ∝ exp(−x²/2 − (y − b x²)²/2)
// (b = 0.5) has E x = 0, E y = b, Var x = 1, Var y = 1 + 2b², Cov = 0; its
// Laplace approximation at the mode (0, 0) is N(0, I), far from the target.
func TestChainsBanana(t *testing.T) {
	const b = 0.5
	logp := func(v []float64) float64 {
		r := v[1] - b*v[0]*v[0]
		return -0.5 * (v[0]*v[0] + r*r)
	}
	lap := Proposal{Mean: []float64{0, 0}, L: [][]float64{{1, 0}, {0, 1}}}
	chains, _ := runChains(t, logp, lap, 8, 400, 4000, 5)
	cov := func(i, j int) float64 {
		switch {
		case i == 0 && j == 0:
			return 1
		case i == 1 && j == 1:
			return 1 + 2*b*b
		}
		return 0
	}
	checkMoments(t, chains, []float64{0, b}, cov)
}

// TestChainsResume: saving and restoring mid-run (with an adapted proposal)
// gives the chains of an uninterrupted run bit for bit.
func TestChainsResume(t *testing.T) {
	prop := Proposal{Mean: []float64{1, -2, 0.5}, L: [][]float64{{1.2, 0, 0}, {0.5, 0.9, 0}, {0, 0.1, 0.5}}}
	start := [][]float64{{1, -2, 0.5}, {1.1, -2, 0.4}, {0.9, -1.8, 0.5}, {1, -2.1, 0.6}}
	a, err := NewChains(g3LogP, start, prop, MHOptions{}, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewChains(g3LogP, start, prop, MHOptions{}, 3, 1)
	adapt := Proposal{Mean: []float64{0.9, -2, 0.4}, L: [][]float64{{1, 0, 0}, {0.8, 0.6, 0}, {-0.3, 0.2, 0.4}}}
	for s := 0; s < 60; s++ {
		if s == 10 {
			a.SetProposal(adapt)
		}
		a.Step()
	}
	for s := 0; s < 25; s++ {
		if s == 10 {
			b.SetProposal(adapt)
		}
		b.Step()
	}
	b2, err := RestoreChains(g3LogP, b.Save(), MHOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < 35; s++ {
		b2.Step()
	}
	for k := 0; k < 4; k++ {
		for i, v := range a.Walker(k) {
			if b2.Walker(k)[i] != v || b2.LogProb(k) != a.LogProb(k) {
				t.Fatalf("chain %d differs after resume: %v vs %v", k, b2.Walker(k), a.Walker(k))
			}
		}
	}
	if a.Steps() != b2.Steps() {
		t.Errorf("steps %d vs %d", b2.Steps(), a.Steps())
	}
}

// TestSplitRHatValue checks split-R̂ against a hand computation and that
// splitting detects a drift that whole-chain R̂ would miss.
func TestSplitRHatValue(t *testing.T) {
	// Halves (0,1), (0,1), (2,3), (2,3): W = ½, means ½, ½, 5/2, 5/2,
	// B = 2·4/3 = 8/3, var⁺ = ½·½ + (8/3)/2, R̂ = sqrt(var⁺/W) = sqrt(19/6).
	r, err := SplitRHat([][]float64{{0, 1, 0, 1}, {2, 3, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	if want := math.Sqrt(19.0 / 6); math.Abs(r-want) > 1e-12 {
		t.Errorf("R̂ = %.15g, want %.15g", r, want)
	}
	// Four chains with the same linear drift (each has the same mean, so an
	// unsplit R̂ would be 1): the split halves differ.
	rng := rand.New(rand.NewPCG(8, 8))
	var drift [][]float64
	for m := 0; m < 4; m++ {
		var c []float64
		for i := 0; i < 400; i++ {
			c = append(c, float64(i)/100+0.3*rng.NormFloat64())
		}
		drift = append(drift, c)
	}
	if r, _ := SplitRHat(drift); r < 1.5 {
		t.Errorf("R̂ of drifting chains %g, want ≫ 1", r)
	}
	if _, err := SplitRHat([][]float64{{1, 2, 3}}); err == nil {
		t.Error("R̂ of 3 draws: no error")
	}
}

func TestProposalErrors(t *testing.T) {
	f := func(x []float64) float64 { return 0 }
	if _, err := NewChains(f, [][]float64{{0}, {0}}, Proposal{Mean: []float64{0}, L: [][]float64{{-1}}}, MHOptions{}, 1, 1); err == nil {
		t.Error("negative factor accepted")
	}
	if _, err := ProposalFromSamples([][]float64{{0, 0}, {1, 1}, {2, 2}}); err == nil {
		t.Error("singular covariance accepted")
	}
	if _, err := NewChains(f, [][]float64{{0}}, Proposal{Mean: []float64{0}, L: [][]float64{{1}}}, MHOptions{}, 1, 1); err == nil {
		t.Error("one chain accepted")
	}
}
