package lensfit

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/lenscore/lenscore/lens"
)

// TestFlipStarts: the flipped variants reverse the ellipticity, and the
// ellipticity and the shear, leaving the other parameters alone.
func TestFlipStarts(t *testing.T) {
	ev, truth := noisyLens(t)
	o, err := NewObjective(ev, lens.DefaultPriors(1.2), fitStart(truth), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	x := o.Pack(truth, 0.3)
	fl := flipStarts(o, x)
	want1 := o.Pack(lens.Params{truth[0], -truth[1], -truth[2], truth[3], truth[4], truth[5], truth[6]}, 0.3)
	want2 := o.Pack(lens.Params{truth[0], -truth[1], -truth[2], truth[3], truth[4], -truth[5], -truth[6]}, 0.3)
	if len(fl) != 2 || !reflect.DeepEqual(fl[0], want1) || !reflect.DeepEqual(fl[1], want2) {
		t.Errorf("flips of %v: %v, want %v and %v", x, fl, want1, want2)
	}
	// Nearly round (|e| < flipMinE): no flipped run.
	round := truth
	round[lens.PE1], round[lens.PE2] = 0.03, -0.02
	if x := betterFlip(o, o.Pack(round, 0)); x != nil {
		t.Errorf("|e| = 0.036: flip %v, want none", x)
	}
	if x := betterFlip(o, x); x == nil || (!reflect.DeepEqual(x, want1) && !reflect.DeepEqual(x, want2)) {
		t.Errorf("better flip %v, want one of the two variants", x)
	}
	pr := lens.DefaultPriors(1.2)
	pr.P[lens.PE2].Fixed = true
	o2, _ := NewObjective(ev, pr, fitStart(truth), true, 0)
	if fl := flipStarts(o2, o2.Pack(truth, 0)); fl != nil {
		t.Errorf("e2 fixed: flips %v, want none", fl)
	}
}

// TestFitStopsWhenConverged: with reachable targets the sampler stops at the
// first check (every CheckEvery kept steps) where every parameter has
// R̂ < RHatTarget and ESS ≥ ESSTarget, before the budget; the reported
// diagnostics are those of the kept steps; the flipped start was
// optimised; and a run interrupted during sampling and resumed stops at the
// same step with the same chains.
func TestFitStopsWhenConverged(t *testing.T) {
	ev, truth := noisyLens(t)
	pr := lens.DefaultPriors(1.2)
	for _, i := range []int{lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
		pr.P[i].Fixed = true
	}
	start := fitStart(truth)
	copy(start[3:], truth[3:])
	opt := FitOptions{Starts: 1, MaxEval: 150, Walkers: 6, Steps: 300, Burn: 10, CheckEvery: 5, RHatTarget: 1.2, ESSTarget: 40,
		Samples: 10, Seed: 2, Fingerprint: "stop"}
	o, _ := NewObjective(ev, pr, start, true, 0)
	res, err := Fit(context.Background(), o, opt)
	if err != nil {
		t.Fatal(err)
	}
	n := len(res.Chain)
	if res.Stop != StopConverged || n >= opt.Steps || (n-opt.Burn)%opt.CheckEvery != 0 {
		t.Fatalf("stopped (%s) after %d steps", res.Stop, n)
	}
	for m := opt.Burn + 2*opt.CheckEvery; m < n; m += opt.CheckEvery {
		r, _, e := diagnose(res.Chain[:m], opt.Burn)
		if converged(r, e, opt.RHatTarget, opt.ESSTarget) {
			t.Fatalf("converged at step %d already (R̂ %v, ESS %v) but ran to %d", m, r, e, n)
		}
	}
	r, tau, e := diagnose(res.Chain, opt.Burn)
	if !reflect.DeepEqual(r, res.RHat) || !reflect.DeepEqual(e, res.ESS) || !reflect.DeepEqual(tau, res.Tau) || !converged(r, e, opt.RHatTarget, opt.ESSTarget) {
		t.Errorf("diagnostics %v %v, recomputed %v %v", res.RHat, res.ESS, r, e)
	}
	if len(res.Starts) != 2 || !res.Starts[1].Flip || res.Starts[0].Flip {
		t.Fatalf("starts %+v: want the screened start and one flipped", res.Starts)
	}
	if x, s := res.Starts[1].Start, res.Starts[0].X; x[1] != -s[1] || x[2] != -s[2] || x[0] != s[0] {
		t.Errorf("flipped start %v is not the first result %v with e reversed", x, s)
	}
	if !res.Adapted || res.Laplace == nil {
		t.Errorf("adapted %v, Laplace %v", res.Adapted, res.Laplace)
	}
	// The posterior median of θ_E is within 2 % of the truth.
	var th []float64
	for _, st := range res.Chain[opt.Burn:] {
		for _, w := range st {
			th = append(th, w[0])
		}
	}
	if med := Quantile(th, 0.5); math.Abs(med/truth[0]-1) > 0.02 {
		t.Errorf("median θ_E %g, truth %g", med, truth[0])
	}
	// Interrupted after a few sampling steps and resumed.
	opt.Checkpoint, opt.CheckpointEvery = filepath.Join(t.TempDir(), "ck.json"), 1
	ctx, cancel := context.WithCancel(context.Background())
	o2, _ := NewObjective(ev, pr, start, true, 0)
	o2.hook = (&cancelAfter{n: res.Evaluations - 6*(n-opt.Burn-7), cancel: cancel}).tick
	if _, err := Fit(ctx, o2, opt); err == nil {
		t.Fatal("interrupted fit returned no error")
	}
	opt.Resume = true
	o3, _ := NewObjective(ev, pr, start, true, 0)
	res3, err := Fit(context.Background(), o3, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res3.Chain, res.Chain) || res3.Stop != res.Stop || res3.Evaluations != res.Evaluations {
		t.Errorf("resumed run stopped after %d steps (%s, %d evaluations), uninterrupted after %d (%s, %d)",
			len(res3.Chain), res3.Stop, res3.Evaluations, n, res.Stop, res.Evaluations)
	}
	t.Logf("stopped after %d steps, R̂ %.3v, ESS %.0f, acceptance %.2f (independence %.2f)", n, res.RHat, res.ESS, res.Acceptance, res.AcceptIndep)
}

// gaussianObjective returns an objective over θ_E, e1, e2 (the rest fixed,
// the amplitude fixed) whose log posterior is the correlated Gaussian
// N(mu, cov) given by its Cholesky factor l, and its log density at x up to
// the same constant.
func gaussianObjective(t *testing.T, mu []float64, l [][]float64, start lens.Params) (*Objective, func(x []float64) float64) {
	t.Helper()
	pr := lens.DefaultPriors(1.2)
	for _, i := range []int{lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
		pr.P[i].Fixed = true
	}
	o, err := NewObjective(nil, pr, start, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	logp := func(x []float64) float64 { // −½‖L⁻¹(x − μ)‖²
		z := make([]float64, len(x))
		var r2 float64
		for i := range x {
			s := x[i] - mu[i]
			for k := 0; k < i; k++ {
				s -= l[i][k] * z[k]
			}
			z[i] = s / l[i][i]
			r2 += z[i] * z[i]
		}
		return -0.5 * r2
	}
	o.like = func(p lens.Params, _ float64) (float64, error) {
		return logp([]float64{p[lens.PThetaE], p[lens.PE1], p[lens.PE2]}), nil
	}
	return o, logp
}

// TestReoptimiseFromChains: with an optimiser budget too small to reach the
// mode of a correlated Gaussian posterior from a start 30σ away, the chains
// start off the mode; they find points more than ReoptGain above the
// optimiser's MAP, the MAP is re-optimised from the best of them (never
// below it: each re-optimised MAP is at least the chains' best point,
// which beats the old MAP by the gain), the chains restart there, and the
// kept draws reproduce the target's mean (within 5 Monte Carlo standard
// errors) and covariance (standard deviations within 15 %, correlation
// within 0.1). A run cancelled inside the re-optimisation (in the BFGS and
// in the Laplace approximation after it) and resumed gives exactly the
// uninterrupted result.
func TestReoptimiseFromChains(t *testing.T) {
	mu := []float64{0.8, 0.1, -0.05}
	sd := []float64{0.0008, 0.002, 0.0025}
	rho := 0.6 // correlation of θ_E and e1
	l := [][]float64{{sd[0], 0, 0}, {rho * sd[1], math.Sqrt(1-rho*rho) * sd[1], 0}, {0, 0, sd[2]}}
	start := lens.Params{0.8 * 1.15, 0, 0, 0, 0, 0, 0}
	opt := FitOptions{Starts: 1, MaxEval: 14, Walkers: 6, Steps: 300, Burn: 20, CheckEvery: 10, RHatTarget: 1.05, ESSTarget: 300,
		Samples: 10, Seed: 3, Fingerprint: "reopt"}
	o, logp := gaussianObjective(t, mu, l, start)
	res, err := Fit(context.Background(), o, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Modes[0].LogPost > -3 {
		t.Fatalf("the optimiser reached log p %g: the test needs it off the mode", res.Modes[0].LogPost)
	}
	if len(res.Reoptimised) == 0 {
		t.Fatalf("no re-optimisation (MAP log p %g, chains' best %g)", res.Modes[0].LogPost, slices.Max(slices.Concat(res.LogProb...)))
	}
	prev := res.Modes[0].LogPost
	for i, r := range res.Reoptimised {
		if r.OldLogPost != prev || !(r.FromLogPost > r.OldLogPost+3) || !(r.LogPost >= r.FromLogPost) || logp(r.X) != r.LogPost {
			t.Errorf("re-optimisation %d: old %g, chains' best %g, new %g (log p there %g)", i, r.OldLogPost, r.FromLogPost, r.LogPost, logp(r.X))
		}
		prev = r.LogPost
	}
	for k := range mu {
		if d := math.Abs(res.MAP[k] - mu[k]); d > 0.05*sd[k] {
			t.Errorf("MAP[%d] = %g, mode %g (%.2fσ off)", k, res.MAP[k], mu[k], d/sd[k])
		}
	}
	if res.Stop != StopConverged {
		t.Errorf("sampler stopped by %s (R̂ %v, ESS %v)", res.Stop, res.RHat, res.ESS)
	}
	var pts [][]float64
	for _, st := range res.Chain[opt.Burn:] {
		pts = append(pts, st...)
	}
	n := float64(len(pts))
	m := make([]float64, 3)
	for _, p := range pts {
		for k := range m {
			m[k] += p[k] / n
		}
	}
	c := [3][3]float64{}
	for _, p := range pts {
		for i := range m {
			for j := range m {
				c[i][j] += (p[i] - m[i]) * (p[j] - m[j]) / (n - 1)
			}
		}
	}
	for k := range mu {
		if se := sd[k] / math.Sqrt(res.ESS[k]); math.Abs(m[k]-mu[k]) > 5*se {
			t.Errorf("mean[%d] = %g, want %g ± %g", k, m[k], mu[k], se)
		}
		if s := math.Sqrt(c[k][k]); math.Abs(s/sd[k]-1) > 0.15 {
			t.Errorf("std[%d] = %g, want %g", k, s, sd[k])
		}
	}
	if r := c[0][1] / math.Sqrt(c[0][0]*c[1][1]); math.Abs(r-rho) > 0.1 {
		t.Errorf("correlation %g, want %g", r, rho)
	}
	// Cancelled inside the BFGS and inside the Laplace approximation of the
	// first re-optimisation, then resumed.
	r0 := res.Reoptimised[0]
	for _, at := range []int{r0.AtEval + r0.Evals/3, r0.AtEval + r0.Evals - 3} {
		opt2 := opt
		opt2.Checkpoint, opt2.CheckpointEvery = filepath.Join(t.TempDir(), "ck.json"), 1
		ctx, cancel := context.WithCancel(context.Background())
		o2, _ := gaussianObjective(t, mu, l, start)
		o2.hook = (&cancelAfter{n: at, cancel: cancel}).tick
		if _, err := Fit(ctx, o2, opt2); err == nil {
			t.Fatal("interrupted fit returned no error")
		}
		opt2.Resume = true
		o3, _ := gaussianObjective(t, mu, l, start)
		res3, err := Fit(context.Background(), o3, opt2)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res3.Chain, res.Chain) || !reflect.DeepEqual(res3.Reoptimised, res.Reoptimised) || res3.Evaluations != res.Evaluations ||
			!reflect.DeepEqual(res3.MAP, res.MAP) {
			t.Errorf("cancelled at evaluation %d and resumed: %d steps, %d re-optimisations, %d evaluations; uninterrupted %d, %d, %d",
				at, len(res3.Chain), len(res3.Reoptimised), res3.Evaluations, len(res.Chain), len(res.Reoptimised), res.Evaluations)
		}
	}
	t.Logf("optimiser log p %.2f; %d re-optimisation(s): %+v; then %d steps, R̂ %.3v, ESS %.0f, acceptance %.2f (independence %.2f)",
		res.Modes[0].LogPost, len(res.Reoptimised), res.Reoptimised, len(res.Chain), res.RHat, res.ESS, res.Acceptance, res.AcceptIndep)
}

// TestBurnInExtendedOnRippledTarget: a separable target whose log density
// per axis is −z²/2 + ½cos 2πz (z in units of s_k; ripples of about one log
// unit at the scale of a standard deviation, as on a pixelated source's
// evidence) has its Laplace approximation at the mode 4.5 times too
// narrow, and the burn-in's draws have not spread when the proposal is
// adapted. The kept draws then show widths that differ from the
// proposal's, the proposal is refitted to them and the burn-in extended
// (FitResult.Burn > Burn), and the draws reproduce the target's mean
// (within 5 Monte Carlo standard errors) and standard deviations (within
// 15 %, from a quadrature of the density). A run interrupted after the
// extension and resumed gives the same chain.
func TestBurnInExtendedOnRippledTarget(t *testing.T) {
	mu := []float64{0.8, 0.1, -0.05}
	s := []float64{0.04, 0.05, 0.06} // about the typical scales (Objective.Steps), so that the Hessian's probes resolve the ripples
	const amp = 0.5
	mk := func() *Objective {
		pr := lens.DefaultPriors(1.2)
		for _, i := range []int{lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
			pr.P[i].Fixed = true
		}
		o, err := NewObjective(nil, pr, lens.Params{mu[0], mu[1], mu[2], 0, 0, 0, 0}, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		o.like = func(p lens.Params, _ float64) (float64, error) {
			var lp float64
			for k, v := range []float64{p[lens.PThetaE], p[lens.PE1], p[lens.PE2]} {
				z := (v - mu[k]) / s[k]
				lp += -0.5*z*z + amp*math.Cos(2*math.Pi*z)
			}
			return lp, nil
		}
		return o
	}
	// E z² of the density ∝ exp(−z²/2 + amp cos 2πz), by the trapezoid rule.
	var m0, m2 float64
	for i := -4000; i <= 4000; i++ {
		z := float64(i) / 400
		w := math.Exp(-0.5*z*z + amp*math.Cos(2*math.Pi*z))
		m0 += w
		m2 += z * z * w
	}
	zsd := math.Sqrt(m2 / m0)
	opt := FitOptions{Starts: 1, MaxEval: 60, Walkers: 6, Steps: 800, Burn: 4, CheckEvery: 10, RHatTarget: 1.05, ESSTarget: 300,
		Samples: 10, Seed: 4, Fingerprint: "ripple"}
	res, err := Fit(context.Background(), mk(), opt)
	if err != nil {
		t.Fatal(err)
	}
	lap := res.Laplace.L
	t.Logf("Laplace widths %.3g %.3g %.3g (target %.3g %.3g %.3g); burn-in %d, %d steps, R̂ %.3v, ESS %.0f, acceptance %.2f (independence %.2f)",
		lap[0][0], math.Hypot(lap[1][0], lap[1][1]), math.Hypot(math.Hypot(lap[2][0], lap[2][1]), lap[2][2]), zsd*s[0], zsd*s[1], zsd*s[2],
		res.Burn, len(res.Chain), res.RHat, res.ESS, res.Acceptance, res.AcceptIndep)
	if res.Burn <= opt.Burn {
		t.Fatalf("burn-in not extended (%d)", res.Burn)
	}
	if res.Stop != StopConverged {
		t.Errorf("sampler stopped by %s", res.Stop)
	}
	var pts [][]float64
	for _, st := range res.Chain[res.Burn:] {
		pts = append(pts, st...)
	}
	n := float64(len(pts))
	for k := range mu {
		var m, v float64
		for _, p := range pts {
			m += p[k] / n
		}
		for _, p := range pts {
			v += (p[k] - m) * (p[k] - m) / (n - 1)
		}
		sd := zsd * s[k]
		if se := sd / math.Sqrt(res.ESS[k]); math.Abs(m-mu[k]) > 5*se {
			t.Errorf("mean[%d] = %g, want %g ± %g", k, m, mu[k], se)
		}
		if math.Abs(math.Sqrt(v)/sd-1) > 0.15 {
			t.Errorf("std[%d] = %g, want %g", k, math.Sqrt(v), sd)
		}
	}
	// Interrupted after the extension, resumed.
	opt.Checkpoint, opt.CheckpointEvery = filepath.Join(t.TempDir(), "ck.json"), 1
	ctx, cancel := context.WithCancel(context.Background())
	o2 := mk()
	o2.hook = (&cancelAfter{n: res.Evaluations - 6*(len(res.Chain)-res.Burn-5), cancel: cancel}).tick
	if _, err := Fit(ctx, o2, opt); err == nil {
		t.Fatal("interrupted fit returned no error")
	}
	opt.Resume = true
	res3, err := Fit(context.Background(), mk(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res3.Chain, res.Chain) || res3.Burn != res.Burn || res3.Evaluations != res.Evaluations {
		t.Errorf("resumed: %d steps, burn-in %d, %d evaluations; uninterrupted %d, %d, %d", len(res3.Chain), res3.Burn, res3.Evaluations, len(res.Chain), res.Burn, res.Evaluations)
	}
}
