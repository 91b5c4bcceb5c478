package mcmc

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gaussian3 is a correlated 3-D Gaussian target with known mean and
// covariance Σ = L Lᵀ.
var (
	g3Mean = []float64{1, -2, 0.5}
	g3L    = [3][3]float64{{1, 0, 0}, {0.8, 0.6, 0}, {-0.3, 0.2, 0.4}}
)

func g3Cov(i, j int) float64 {
	var s float64
	for k := 0; k < 3; k++ {
		s += g3L[i][k] * g3L[j][k]
	}
	return s
}

// g3LogP is −½ (x−μ)ᵀΣ⁻¹(x−μ) via forward substitution with L.
func g3LogP(x []float64) float64 {
	var z [3]float64
	for i := 0; i < 3; i++ {
		s := x[i] - g3Mean[i]
		for k := 0; k < i; k++ {
			s -= g3L[i][k] * z[k]
		}
		z[i] = s / g3L[i][i]
	}
	return -0.5 * (z[0]*z[0] + z[1]*z[1] + z[2]*z[2])
}

// TestEnsembleRecoversGaussian: the sample mean and covariance of the
// stretch-move chains match the target within Monte Carlo error (the
// standard error of a mean is σ/√ESS; of a covariance, about
// sqrt((Σ_ii Σ_jj + Σ_ij²)/ESS)).
func TestEnsembleRecoversGaussian(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var start [][]float64
	for k := 0; k < 16; k++ {
		start = append(start, []float64{rng.NormFloat64() * 0.1, rng.NormFloat64() * 0.1, rng.NormFloat64() * 0.1})
	}
	e, err := NewEnsemble(g3LogP, start, 0, 11, 0)
	if err != nil {
		t.Fatal(err)
	}
	const burn, steps = 300, 3000
	chains := make([][][]float64, 3) // [param][walker][t]
	for i := range chains {
		chains[i] = make([][]float64, 16)
	}
	for s := 0; s < burn+steps; s++ {
		e.Step()
		if s >= burn {
			for k := 0; k < 16; k++ {
				for i, v := range e.Walker(k) {
					chains[i][k] = append(chains[i][k], v)
				}
			}
		}
	}
	if a := e.Acceptance(); a < 0.2 || a > 0.9 {
		t.Errorf("acceptance %g", a)
	}
	minESS := math.Inf(1)
	for i := range chains {
		_, ess, err := AutocorrTime(chains[i])
		if err != nil {
			t.Fatal(err)
		}
		minESS = math.Min(minESS, ess)
		r, _ := SplitRHat(chains[i])
		if r > 1.05 {
			t.Errorf("param %d: R̂ %g", i, r)
		}
	}
	if minESS < 500 {
		t.Fatalf("ESS %g too small for the test", minESS)
	}
	flat := func(i int) []float64 {
		var v []float64
		for _, c := range chains[i] {
			v = append(v, c...)
		}
		return v
	}
	for i := 0; i < 3; i++ {
		xi := flat(i)
		mi := mean(xi)
		if se := math.Sqrt(g3Cov(i, i) / minESS); math.Abs(mi-g3Mean[i]) > 4*se {
			t.Errorf("mean[%d] = %g, want %g ± %g", i, mi, g3Mean[i], se)
		}
		for j := 0; j <= i; j++ {
			xj := flat(j)
			mj := mean(xj)
			var c float64
			for k := range xi {
				c += (xi[k] - mi) * (xj[k] - mj)
			}
			c /= float64(len(xi) - 1)
			se := math.Sqrt((g3Cov(i, i)*g3Cov(j, j) + g3Cov(i, j)*g3Cov(i, j)) / minESS)
			if math.Abs(c-g3Cov(i, j)) > 4*se {
				t.Errorf("cov[%d][%d] = %g, want %g ± %g", i, j, c, g3Cov(i, j), se)
			}
		}
	}
}

// TestEnsembleResume: saving and restoring the state mid-run gives the
// same walkers as an uninterrupted run, bit for bit.
func TestEnsembleResume(t *testing.T) {
	start := [][]float64{{0, 0, 0}, {0.1, 0, 0}, {0, 0.1, 0}, {0, 0, 0.1}, {0.1, 0.1, 0}, {0, 0.1, 0.1}}
	a, _ := NewEnsemble(g3LogP, start, 0, 3, 1)
	b, _ := NewEnsemble(g3LogP, start, 0, 3, 1)
	for s := 0; s < 50; s++ {
		a.Step()
	}
	for s := 0; s < 20; s++ {
		b.Step()
	}
	b2, err := Restore(g3LogP, b.Save(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s < 30; s++ {
		b2.Step()
	}
	for k := 0; k < 6; k++ {
		for i, v := range a.Walker(k) {
			if b2.Walker(k)[i] != v {
				t.Fatalf("walker %d differs after resume: %v vs %v", k, b2.Walker(k), a.Walker(k))
			}
		}
	}
}

func TestSplitRHatAndTau(t *testing.T) {
	// Independent draws: τ ≈ 1, R̂ ≈ 1; a shifted chain: R̂ ≫ 1.
	rng := rand.New(rand.NewPCG(1, 2))
	var iid, shifted [][]float64
	for m := 0; m < 4; m++ {
		var c, s []float64
		for i := 0; i < 2000; i++ {
			v := rng.NormFloat64()
			c = append(c, v)
			s = append(s, v+float64(m))
		}
		iid, shifted = append(iid, c), append(shifted, s)
	}
	tau, _, _ := AutocorrTime(iid)
	if tau > 1.3 {
		t.Errorf("τ of iid draws %g, want ≈ 1", tau)
	}
	if r, _ := SplitRHat(iid); math.Abs(r-1) > 0.01 {
		t.Errorf("R̂ of iid draws %g", r)
	}
	if r, _ := SplitRHat(shifted); r < 1.5 {
		t.Errorf("R̂ of shifted chains %g, want ≫ 1", r)
	}
	// AR(1) with coefficient φ has τ = (1+φ)/(1−φ) = 3 for φ = ½.
	var ar [][]float64
	for m := 0; m < 8; m++ {
		x, c := 0.0, []float64{}
		for i := 0; i < 20000; i++ {
			x = 0.5*x + rng.NormFloat64()
			c = append(c, x)
		}
		ar = append(ar, c)
	}
	if tau, _, _ := AutocorrTime(ar); math.Abs(tau-3) > 0.2 {
		t.Errorf("τ of AR(1) ½ = %g, want 3", tau)
	}
}

func TestMaximise(t *testing.T) {
	// Rosenbrock-like ridge in 2-D plus the 3-D Gaussian.
	r, err := Maximise(g3LogP, []float64{0, 0, 0}, MaximiseOptions{Steps: []float64{0.5, 0.5, 0.5}, FTol: 1e-12, XTol: 1e-8})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range r.X {
		if math.Abs(v-g3Mean[i]) > 1e-4 {
			t.Errorf("x[%d] = %g, want %g", i, v, g3Mean[i])
		}
	}
	rosen := func(x []float64) float64 { return -(100*math.Pow(x[1]-x[0]*x[0], 2) + math.Pow(1-x[0], 2)) }
	r, err = Maximise(rosen, []float64{-1.2, 1}, MaximiseOptions{Steps: []float64{0.1, 0.1}, FTol: 1e-14, XTol: 1e-9, MaxEval: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.X[0]-1) > 1e-4 || math.Abs(r.X[1]-1) > 1e-4 || !r.Conv {
		t.Errorf("Rosenbrock maximum at %v (converged %v), want (1, 1)", r.X, r.Conv)
	}
	// A bounded support: the maximum on the boundary region is approached.
	bounded := func(x []float64) float64 {
		if x[0] > 0.5 {
			return math.Inf(-1)
		}
		return -(x[0] - 1) * (x[0] - 1)
	}
	r, _ = Maximise(bounded, []float64{0}, MaximiseOptions{Steps: []float64{0.3}, FTol: 1e-12, XTol: 1e-9})
	if math.Abs(r.X[0]-0.5) > 1e-6 {
		t.Errorf("bounded maximum at %g, want 0.5", r.X[0])
	}
}
