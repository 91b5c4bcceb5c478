package posterior

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// kalman returns the posterior by the independent "Kalman" form over the kept
// rows: K = Σ₀Aᵀ(AΣ₀Aᵀ+N)⁻¹, μ = μ₀ + K(y − Aμ₀), Σ = Σ₀ − KAΣ₀, and the
// log evidence log N(y | Aμ₀, AΣ₀Aᵀ + N) evaluated densely.
func kalman(t *testing.T, op *denseOp, y, sn []float64, keep []bool, mu0 []float64, s0 *mat.SymDense) ([]float64, *mat.Dense, float64) {
	t.Helper()
	var rows []int
	for i := range y {
		if keep == nil || keep[i] {
			rows = append(rows, i)
		}
	}
	m, n := len(rows), op.n
	a := mat.NewDense(m, n, nil)
	r := mat.NewVecDense(m, nil)
	for p, i := range rows {
		var am float64
		for j := 0; j < n; j++ {
			a.Set(p, j, op.a[i*n+j])
			am += op.a[i*n+j] * mu0[j]
		}
		r.SetVec(p, y[i]-am)
	}
	var as, s mat.Dense
	as.Mul(a, s0)
	s.Mul(&as, a.T())
	for p, i := range rows {
		sg := sn[0]
		if len(sn) > 1 {
			sg = sn[i]
		}
		s.Set(p, p, s.At(p, p)+sg*sg)
	}
	ss := mat.NewSymDense(m, nil)
	for i := 0; i < m; i++ {
		for j := i; j < m; j++ {
			ss.SetSym(i, j, s.At(i, j))
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(ss) {
		t.Fatal("evidence covariance not PD")
	}
	var sol mat.VecDense
	ch.SolveVecTo(&sol, r)
	logev := -0.5 * (mat.Dot(r, &sol) + ch.LogDet() + float64(m)*math.Log(2*math.Pi))
	var gain mat.Dense // Σ₀Aᵀ S⁻¹ = (S⁻¹ A Σ₀)ᵀ
	var sa mat.Dense
	ch.SolveTo(&sa, &as)
	gain.CloneFrom(sa.T())
	mu := make([]float64, n)
	var upd mat.VecDense
	upd.MulVec(&gain, r)
	for j := range mu {
		mu[j] = mu0[j] + upd.AtVec(j)
	}
	var ka, cov mat.Dense
	ka.Mul(&gain, &as)
	cov.Sub(s0, &ka)
	return mu, &cov, logev
}

func TestInvertMatchesKalmanAndDenseEvidence(t *testing.T) {
	ns, m := 6, 50
	n := ns * ns
	op := randomOp(m, n, 7)
	r := rand.New(rand.NewPCG(8, 9))
	y := make([]float64, m)
	sn := make([]float64, m)
	keep := make([]bool, m)
	for i := range y {
		y[i] = r.NormFloat64() * 3
		sn[i] = 0.2 + r.Float64()
		keep[i] = i%7 != 3
	}
	mu := make([]float64, n)
	for i := range mu {
		mu[i] = 0.1 * float64(i%5)
	}
	iso, _ := NewIsoGaussian(mu, 0.7, testVE.Sigma)
	grf, _ := NewGRF(ns, ns, 0.2, powerLaw(ns, ns, 1.3, 1), testVE.Sigma)
	for _, prior := range []GaussianPrior{iso, grf} {
		ev, err := NewEvidence(op, y, sn, keep, prior)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []float64{0.3, 1, 2.5} {
			sp := prior.Scaled(a)
			wmu, wcov, wlog := kalman(t, op, y, sn, keep, sp.Mean(), sp.Cov())
			if got := ev.LogEvidence(a); math.Abs(got-wlog) > 1e-8*math.Abs(wlog) {
				t.Errorf("%T a=%g: log evidence %.10g, dense %.10g", prior, a, got, wlog)
			}
			inv, err := ev.Posterior(a, true)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < n; j++ {
				if math.Abs(inv.Mean[j]-wmu[j]) > 1e-9 || math.Abs(inv.Std[j]-math.Sqrt(wcov.At(j, j))) > 1e-9 {
					t.Fatalf("%T a=%g pixel %d: mean %g std %g, Kalman %g %g", prior, a, j, inv.Mean[j], inv.Std[j], wmu[j], math.Sqrt(wcov.At(j, j)))
				}
			}
			if !mat.EqualApprox(inv.Cov, wcov, 1e-9) {
				t.Errorf("%T a=%g: covariance differs from the Kalman form", prior, a)
			}
		}
		best, lev, err := ev.Maximise(1e-3, 1e3)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []float64{0.99, 1.01, 0.5, 2} {
			if ev.LogEvidence(best*f) > lev {
				t.Errorf("%T: evidence at %g·a* exceeds the maximum at a*=%g", prior, f, best)
			}
		}
		t.Logf("%T: a* = %.4f, log evidence %.4f", prior, best, lev)
		full, err := Invert(op, y, sn, prior, InvertOptions{Keep: keep})
		if err != nil || math.Abs(full.Scale-best) > 1e-5*best {
			t.Errorf("Invert chose %v (err %v), Maximise %g", full.Scale, err, best)
		}
	}
}

// Data generated with a known isotropic prior scale: the evidence maximum
// must land near it (a loose check that the evidence is useful).
func TestEvidenceRecoversScale(t *testing.T) {
	n, m := 144, 200
	op := randomOp(m, n, 11)
	r := rand.New(rand.NewPCG(12, 13))
	x := make([]float64, n)
	for i := range x {
		x[i] = 2.0 * r.NormFloat64()
	}
	y := make([]float64, m)
	op.Apply(y, x)
	for i := range y {
		y[i] += 0.5 * r.NormFloat64()
	}
	iso, _ := NewIsoGaussian(make([]float64, n), 1, testVE.Sigma)
	inv, err := Invert(op, y, []float64{0.5}, iso, InvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("true s = 2, evidence s* = %.3f", inv.Scale)
	if math.Abs(inv.Scale-2) > 0.3 {
		t.Errorf("evidence-optimal s = %g, data drawn with s = 2", inv.Scale)
	}
	if _, err := Invert(op, y[:3], []float64{0.5}, iso, InvertOptions{}); err == nil {
		t.Error("short y accepted")
	}
	if _, err := Invert(op, y, []float64{0}, iso, InvertOptions{}); err == nil {
		t.Error("zero noise accepted")
	}
}
