package lensfit

import (
	"context"
	"math"
	"path/filepath"
	"reflect"
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
