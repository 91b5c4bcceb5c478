package posterior

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// krylovProblem is an 8×8 source seen through the lens-like operator at
// 12×12 with a mask, and its data, for an isotropic and a GRF prior.
func krylovProblem(t *testing.T) (op *denseOp, y, sn []float64, keep []bool, priors map[string]GaussianPrior) {
	t.Helper()
	const ns = 8
	op = lensOp(ns, 12, 0.5, 1.2, 1)
	m, n := op.Dims()
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float64, n)
	for i := range x {
		r, c := float64(i/ns)-3.5, float64(i%ns)-3.5
		x[i] = math.Exp(-(r*r+c*c)/6) + 0.05*rng.NormFloat64()
	}
	y = make([]float64, m)
	op.Apply(y, x)
	sn = make([]float64, m)
	keep = make([]bool, m)
	for i := range y {
		sn[i] = 0.03 + 0.01*float64(i%3)
		y[i] += sn[i] * rng.NormFloat64()
		keep[i] = i%17 != 0
	}
	sig := func(t float64) float64 { return t }
	iso, err := NewIsoGaussian(make([]float64, n), 0.4, sig)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]float64, n)
	for ky := range ns {
		for kx := range ns {
			fx, fy := float64(min(kx, ns-kx)), float64(min(ky, ns-ky))
			p[ky*ns+kx] = 0.5 / (1 + fx*fx + fy*fy)
		}
	}
	grf, err := NewGRF(ns, ns, 0.1, p, sig)
	if err != nil {
		t.Fatal(err)
	}
	return op, y, sn, keep, map[string]GaussianPrior{"iso": iso, "grf": grf}
}

// With unit probes and as many Lanczos steps as pixels the Krylov evidence
// is exact: it matches the dense Evidence at every amplitude, as do the
// maximising amplitude and the posterior mean; the sampled standard
// deviation agrees with the exact one within its Monte Carlo error.
func TestKrylovMatchesDenseEvidence(t *testing.T) {
	op, y, sn, keep, priors := krylovProblem(t)
	_, n := op.Dims()
	for name, pr := range priors {
		ev, err := NewEvidence(op, y, sn, keep, pr)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := NewKrylovEvidence(op, y, sn, keep, pr, KrylovOptions{Iterations: n, UnitProbes: true, ProbeIterations: n, Samples: 200, Tol: 1e-10, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []float64{0.01, 0.3, 1, 3, 100} {
			d, k := ev.LogEvidence(a), kv.LogEvidence(a)
			if math.Abs(d-k) > 1e-7*math.Abs(d) {
				t.Errorf("%s a=%g: Krylov log evidence %.12g, dense %.12g", name, a, k, d)
			}
		}
		ad, _, _ := ev.Maximise(1e-3, 1e3)
		ak, _, _ := kv.Maximise(1e-3, 1e3)
		if math.Abs(ad-ak) > 1e-5*ad {
			t.Errorf("%s: Krylov maximum at a=%.8g, dense %.8g", name, ak, ad)
		}
		dp, err := ev.Posterior(ak, false)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := kv.Posterior(ak)
		if err != nil {
			t.Fatal(err)
		}
		var num, den, ratio float64
		for i := range dp.Mean {
			num += (kp.Mean[i] - dp.Mean[i]) * (kp.Mean[i] - dp.Mean[i])
			den += dp.Mean[i] * dp.Mean[i]
			ratio += kp.Std[i] * kp.Std[i] / (dp.Std[i] * dp.Std[i])
		}
		if math.Sqrt(num/den) > 1e-6 { // CG to a 1e-10 residual
			t.Errorf("%s: posterior mean differs by %.3g (relative)", name, math.Sqrt(num/den))
		}
		// Mean of (sampled/exact variance) over the pixels: each ratio has
		// relative standard deviation √(2/K) = 0.1; the pixels are
		// correlated, so allow a 12% deviation of their mean.
		if r := ratio / float64(n); math.Abs(r-1) > 0.12 {
			t.Errorf("%s: sampled variances average %.3f × the exact ones", name, r)
		}
	}
}

// Rademacher probes give an unbiased log-determinant whose reported
// standard error covers the exact value.
func TestKrylovStochasticLogDet(t *testing.T) {
	op, y, sn, keep, priors := krylovProblem(t)
	_, n := op.Dims()
	pr := priors["grf"]
	exact, err := NewKrylovEvidence(op, y, sn, keep, pr, KrylovOptions{Iterations: n, UnitProbes: true, ProbeIterations: n})
	if err != nil {
		t.Fatal(err)
	}
	est, err := NewKrylovEvidence(op, y, sn, keep, pr, KrylovOptions{Iterations: n, Probes: 64, ProbeIterations: 30, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []float64{0.3, 1, 3} {
		e, s := est.LogEvidence(a), est.LogDetStdErr(a)
		x := exact.LogEvidence(a)
		if !(s > 0) || math.Abs(e-x) > 4*s {
			t.Errorf("a=%g: estimate %.6g ± %.3g, exact %.6g", a, e, s, x)
		}
		if s > 0.05*math.Abs(x) {
			t.Errorf("a=%g: standard error %.3g is large against %.6g", a, s, x)
		}
	}
}

func TestKrylovBadInput(t *testing.T) {
	op, y, sn, keep, priors := krylovProblem(t)
	if _, err := NewKrylovEvidence(op, y[:3], sn, keep, priors["iso"], KrylovOptions{}); err == nil {
		t.Error("short y accepted")
	}
	kv, err := NewKrylovEvidence(op, y, sn, keep, priors["iso"], KrylovOptions{Probes: 2, ProbeIterations: 5, Iterations: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Posterior(-1); err == nil {
		t.Error("negative amplitude accepted")
	}
}

// A cancelled context stops the Lanczos runs and the solves.
func TestKrylovCancel(t *testing.T) {
	op, y, sn, keep, priors := krylovProblem(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewKrylovEvidence(op, y, sn, keep, priors["grf"], KrylovOptions{Context: ctx}); !errors.Is(err, context.Canceled) {
		t.Errorf("NewKrylovEvidence with a cancelled context: %v", err)
	}
	kv, err := NewKrylovEvidence(op, y, sn, keep, priors["grf"], KrylovOptions{Probes: 2, ProbeIterations: 4})
	if err != nil {
		t.Fatal(err)
	}
	kv.opt.Context = ctx
	if _, err := kv.Posterior(1); !errors.Is(err, context.Canceled) {
		t.Errorf("Posterior with a cancelled context: %v", err)
	}
}
