package posterior

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseLikelihoodKind(t *testing.T) {
	for _, k := range LikelihoodKinds {
		got, err := ParseLikelihoodKind(string(k))
		if err != nil || got != k {
			t.Errorf("ParseLikelihoodKind(%q) = %q, %v", k, got, err)
		}
	}
	for _, s := range []string{"", "Convolved", "projected-", "exactish"} {
		if _, err := ParseLikelihoodKind(s); err == nil || !strings.Contains(err.Error(), "projected-jacobian") {
			t.Errorf("ParseLikelihoodKind(%q): error %v, want one listing the kinds", s, err)
		}
	}
	for _, c := range []struct {
		k                 LikelihoodKind
		projected, jac    bool
		batch, wantBatch2 int
	}{
		{LikelihoodConvolved, false, false, 2, 2},
		{LikelihoodExact, false, false, 2, 2},
		{LikelihoodProjected, true, false, 2, 2},
		{LikelihoodProjectedJacobian, true, true, 2, 5},
	} {
		if c.k.Projected() != c.projected || c.k.PriorJacobian() != c.jac {
			t.Errorf("%s: Projected %v, PriorJacobian %v", c.k, c.k.Projected(), c.k.PriorJacobian())
		}
		if b := c.k.PriorBatch(c.batch, 5); b != c.wantBatch2 {
			t.Errorf("%s: PriorBatch(2, 5 chains) = %d, want %d", c.k, b, c.wantBatch2)
		}
		if b := c.k.PriorBatch(8, 5); b != 8 {
			t.Errorf("%s: PriorBatch(8, 5 chains) = %d, want 8", c.k, b)
		}
		opt := Options{PriorJacobian: !c.jac, JacobianBelow: 7}
		if err := c.k.Configure(&opt, 0.3); err != nil || opt.PriorJacobian != c.jac || (c.jac && opt.JacobianBelow != 0.3) || (!c.jac && opt.JacobianBelow != 0) {
			t.Errorf("%s: Configure gave PriorJacobian %v, JacobianBelow %g, error %v", c.k, opt.PriorJacobian, opt.JacobianBelow, err)
		}
	}
	for _, v := range []float64{-0.1, math.NaN()} {
		if err := LikelihoodProjectedJacobian.Configure(&Options{}, v); err == nil {
			t.Errorf("Configure accepted JacobianBelow %g", v)
		}
	}
}

// Each kind of NewLikelihood scores exactly as the constructor it stands
// for (convolved, diag, exact from the exact posterior, projected with the
// GRF prior as its own proxy).
func TestNewLikelihoodMatchesConstructors(t *testing.T) {
	p := newProblem(t, true, 0.1)
	g := p.prior.(*GRF)
	keep := make([]bool, len(p.y))
	for i := range keep {
		keep[i] = i%7 != 3
	}
	cfg := LikelihoodConfig{Op: p.op, Y: p.y, SigmaN: p.sn, Keep: keep, Sigma: testVE.Sigma, Prior: g, Chains: 4}
	conv, _ := NewConvolved(p.op, p.y, p.sn, keep, testVE.Sigma)
	dg, _ := NewDiag(p.op, p.y, p.sn, keep, testVE.Sigma)
	pj, _ := NewProjected(p.op, p.y, p.sn, keep, g, testVE.Sigma)
	inv, err := Invert(p.op, p.y, p.sn, g, InvertOptions{Keep: keep, Scale: 1, FullCov: true})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := NewExact(&Gaussian{Mean: inv.Mean, Cov: inv.Cov}, g, testVE.Sigma)
	if err != nil {
		t.Fatal(err)
	}
	want := map[LikelihoodKind]Likelihood{LikelihoodConvolved: conv, LikelihoodDiag: dg, LikelihoodExact: ex,
		LikelihoodProjected: pj, LikelihoodProjectedJacobian: pj}
	n := g.Dim()
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, n)
	for i := range x {
		x[i] = 0.5 + r.NormFloat64()
	}
	for _, k := range LikelihoodKinds {
		lik, err := NewLikelihood(k, cfg)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		w := want[k]
		a, b := make([]float64, n), make([]float64, n)
		sa, sb := make([]float64, lik.ScratchLen()), make([]float64, w.ScratchLen())
		for _, tt := range []float64{0.05, 0.5} {
			lik.Score(a, x, tt, sa)
			w.Score(b, x, tt, sb)
			for i := range a {
				if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
					t.Fatalf("%s, t=%g, pixel %d: %g, constructor %g", k, tt, i, a[i], b[i])
				}
			}
		}
	}
	if _, err := NewLikelihood("exactish", cfg); err == nil {
		t.Error("NewLikelihood accepted an unknown kind")
	}
}

// The factory refuses what a kind cannot use: exact without a Gaussian
// prior, projected without a proxy, projected-jacobian without a prior
// Jacobian or with a prior that cannot take every chain in one call (the
// whole-batch rule), which the sampler also refuses before its first step.
func TestNewLikelihoodRefuses(t *testing.T) {
	p := newProblem(t, false, 0.1)
	n := p.prior.Dim()
	net := &fakeNet{mu: 0.5, s: 1, out: make([]float32, 8*n)}
	np, err := NewNetworkPrior(net, testVE, n, 2)
	if err != nil {
		t.Fatal(err)
	}
	proxy, _ := NewGRF(8, 8, 0.5, powerLaw(8, 8, 1, 1.5), testVE.Sigma)
	base := LikelihoodConfig{Op: p.op, Y: p.y, SigmaN: p.sn, Sigma: testVE.Sigma}
	for _, c := range []struct {
		name string
		kind LikelihoodKind
		mod  func(*LikelihoodConfig)
		want string
	}{
		{"exact, network prior", LikelihoodExact, func(c *LikelihoodConfig) { c.Prior = np }, "Gaussian prior"},
		{"projected, no proxy", LikelihoodProjected, func(c *LikelihoodConfig) { c.Prior = p.prior }, "proxy"},
		{"jacobian, no Jacobian", LikelihoodProjectedJacobian, func(c *LikelihoodConfig) { c.Prior, c.Proxy = p.prior, proxy }, "Jacobian"},
		{"jacobian, batch 2 < 3 chains", LikelihoodProjectedJacobian, func(c *LikelihoodConfig) { c.Prior, c.Proxy, c.Chains = np, proxy, 3 }, "all 3 chains"},
	} {
		cfg := base
		c.mod(&cfg)
		if _, err := NewLikelihood(c.kind, cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	cfg := base
	cfg.Prior, cfg.Proxy, cfg.Chains = np, proxy, 2
	lik, err := NewLikelihood(LikelihoodProjectedJacobian, cfg)
	if err != nil {
		t.Fatalf("2 chains in a batch of 2: %v", err)
	}
	_, err = Sample(context.Background(), np, lik, testVE, Options{Chains: 3, Steps: 5, PriorJacobian: true})
	if err == nil || !strings.Contains(err.Error(), "at most 2") || len(net.batches) != 0 {
		t.Errorf("sampler with 3 chains and a prior batch of 2: error %v after %d network calls", err, len(net.batches))
	}
}
