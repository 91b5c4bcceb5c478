package posterior

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// denseSolve returns (S + s2 I)⁻¹ d by a gonum Cholesky solve.
func denseSolve(t *testing.T, s *mat.SymDense, s2 float64, d []float64) []float64 {
	t.Helper()
	n := s.SymmetricDim()
	m := mat.NewSymDense(n, nil)
	m.CopySym(s)
	for i := 0; i < n; i++ {
		m.SetSym(i, i, m.At(i, i)+s2)
	}
	var ch mat.Cholesky
	if !ch.Factorize(m) {
		t.Fatal("S + σ²I not PD")
	}
	var x mat.VecDense
	if err := ch.SolveVecTo(&x, mat.NewVecDense(n, append([]float64(nil), d...))); err != nil {
		t.Fatal(err)
	}
	return x.RawVector().Data
}

// Exact.Score equals the dense difference of time-t scores
// −(Σ_post+σ²I)⁻¹(x−μ_post) + (Σ₀+σ²I)⁻¹(x−μ₀), for an isotropic prior (no
// eigendecomposition of Σ₀) and a GRF prior, at small and large σ(t).
func TestExactScoreMatchesDense(t *testing.T) {
	for _, grf := range []bool{false, true} {
		p := newProblem(t, grf, 0.1)
		n := len(p.inv.Mean)
		r := rand.New(rand.NewPCG(5, 6))
		x := make([]float64, n)
		for i := range x {
			x[i] = r.NormFloat64()
		}
		got := make([]float64, n)
		scratch := make([]float64, p.exact.ScratchLen())
		for _, tt := range []float64{0.01, 0.5, 1} {
			p.exact.Score(got, x, tt, scratch)
			s := testVE.Sigma(tt)
			dp, d0 := make([]float64, n), make([]float64, n)
			for i := range x {
				dp[i] = x[i] - p.inv.Mean[i]
				d0[i] = x[i] - p.prior.Mean()[i]
			}
			a := denseSolve(t, p.inv.Cov, s*s, dp)
			b := denseSolve(t, p.prior.Cov(), s*s, d0)
			var worst, scale float64
			for i := range got {
				want := -a[i] + b[i]
				worst = math.Max(worst, math.Abs(got[i]-want))
				scale = math.Max(scale, math.Abs(a[i])+math.Abs(b[i]))
			}
			if worst > 1e-9*scale {
				t.Errorf("grf=%v t=%g: |score − dense| = %.3g (scale %.3g)", grf, tt, worst, scale)
			}
		}
	}
}
