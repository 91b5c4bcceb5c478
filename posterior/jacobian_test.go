package posterior

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/sde"
)

// For a GRF prior that is its own proxy, the prior's Jacobian equals the
// proxy's S_t/σ², so sampling with PriorJacobian (v + σ²(∂s/∂x)ᵀv through
// the GRF's VJP) gives the samples of the ordinary projected likelihood to
// the CG tolerance; and the GRF's VJP is −(Σ₀ + σ²)⁻¹ v, checked against
// finite differences of its score.
func TestPriorJacobianGRF(t *testing.T) {
	p, grf, pl := projectedProblem(t)
	pl.tol = 1e-12
	n := grf.Dim()
	r := rand.New(rand.NewPCG(4, 5))
	x, v, vj, s0, s1 := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
		v[i] = r.NormFloat64()
	}
	const tt, h = 0.3, 1e-5
	if err := grf.ScoreKeep(s0, x, 1, tt); err != nil {
		t.Fatal(err)
	}
	if err := grf.VJP(vj, v, 1); err != nil {
		t.Fatal(err)
	}
	// The Jacobian is symmetric, so vᵀ(∂s/∂x) = d/dh s(x + h v).
	xp := make([]float64, n)
	for i := range xp {
		xp[i] = x[i] + h*v[i]
	}
	if err := grf.Score(s1, xp, 1, tt); err != nil {
		t.Fatal(err)
	}
	for i := range vj {
		if fd := (s1[i] - s0[i]) / h; math.Abs(fd-vj[i]) > 1e-6*(1+math.Abs(fd)) {
			t.Fatalf("pixel %d: VJP %g, finite difference %g", i, vj[i], fd)
		}
	}
	opt := Options{Seed: 2, Chains: 4, Steps: 60}
	a, err := Sample(context.Background(), grf, pl, testVE, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.PriorJacobian = true
	b, err := Sample(context.Background(), grf, pl, testVE, opt)
	if err != nil {
		t.Fatal(err)
	}
	var d, s float64
	for c := range a.Samples {
		for i, u := range a.Samples[c] {
			d = max(d, math.Abs(u-b.Samples[c][i]))
			s = max(s, math.Abs(u))
		}
	}
	if d > 1e-6*s || s == 0 {
		t.Errorf("PriorJacobian samples differ from the proxy's by %g (scale %g)", d, s)
	}
	// Without a Jacobian prior or a cotangent likelihood it is refused.
	if _, err := Sample(context.Background(), grf, p.exact, testVE, opt); err == nil {
		t.Error("PriorJacobian with a likelihood without cotangents accepted")
	}
	if _, err := Sample(context.Background(), noJacobian{grf}, pl, testVE, opt); err == nil {
		t.Error("PriorJacobian with a prior without a Jacobian accepted")
	}
}

type noJacobian struct{ p Prior }

func (q noJacobian) Dim() int { return q.p.Dim() }
func (q noJacobian) Score(dst, x []float64, n int, t float64) error {
	return q.p.Score(dst, x, n, t)
}

// countingJacobian counts the ScoreKeep calls of a JacobianPrior and the
// largest σ among them.
type countingJacobian struct {
	*GRF
	calls int
	maxT  float64
}

func (c *countingJacobian) ScoreKeep(dst, x []float64, n int, t float64) error {
	c.calls++
	c.maxT = max(c.maxT, t)
	return c.GRF.ScoreKeep(dst, x, n, t)
}

// JacobianBelow restricts the Jacobian to the steps with σ(t) ≤ it.
func TestJacobianBelow(t *testing.T) {
	_, grf, pl := projectedProblem(t)
	const steps = 40
	below := testVE.Sigma(0.5)
	cj := &countingJacobian{GRF: grf}
	if _, err := Sample(context.Background(), cj, pl, testVE, Options{Seed: 1, Chains: 2, Steps: steps, PriorJacobian: true, JacobianBelow: below}); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, tt := range sde.Times(steps, DefaultEps)[:steps] {
		if testVE.Sigma(tt) <= below {
			want++
		}
	}
	if cj.calls != want || want == 0 || want == steps || testVE.Sigma(cj.maxT) > below {
		t.Errorf("%d Jacobian steps (largest t %g), want %d of %d", cj.calls, cj.maxT, want, steps)
	}
}
