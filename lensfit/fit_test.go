package lensfit

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lenscore/lenscore/lens"
	"github.com/lenscore/lenscore/posterior"
)

// noisyLens is a small simulated lens with noise for the fit tests.
func noisyLens(t testing.TB) (*Evidence, lens.Params) {
	truth := lens.Params{0.75, 0.1, -0.06, 0.02, -0.03, 0.03, -0.02}
	cfg, d, _ := sersicProblem(t, 20, 14, truth, 0.02)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range d.Y {
		d.Y[i] += 0.02 * rng.NormFloat64()
	}
	iso, err := posterior.NewIsoGaussian(make([]float64, 196), 0.5, sigmaOne)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvidence(cfg, d, iso)
	if err != nil {
		t.Fatal(err)
	}
	return ev, truth
}

func fitStart(truth lens.Params) lens.Params {
	return lens.Params{truth[0] * 1.12, 0, 0, 0, 0, 0, 0}
}

// TestFitRecoversThetaE fits a small simulated lens from a perturbed start
// (θ_E + 12 %, e = γ = 0, centre 0) and checks θ_E within 2 % at the MAP and
// in the posterior median.
func TestFitRecoversThetaE(t *testing.T) {
	ev, truth := noisyLens(t)
	o, err := NewObjective(ev, lens.DefaultPriors(1.2), fitStart(truth), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Fit(context.Background(), o, FitOptions{Starts: 2, MaxEval: 300, Walkers: 16, Steps: 20, Burn: 12, Samples: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := o.Unpack(res.MAP)
	if rel := math.Abs(p[lens.PThetaE]/truth[lens.PThetaE] - 1); rel > 0.02 {
		t.Errorf("MAP θ_E %g, truth %g (%.1f %%)", p[lens.PThetaE], truth[lens.PThetaE], 100*rel)
	}
	var th []float64
	for _, s := range res.Samples {
		th = append(th, s[0])
	}
	if med := Quantile(th, 0.5); math.Abs(med/truth[lens.PThetaE]-1) > 0.02 {
		t.Errorf("posterior median θ_E %g, truth %g", med, truth[lens.PThetaE])
	}
	t.Logf("MAP %v logp %.2f modes %d evals %d acceptance %.2f", p, res.MAPLogPost, len(res.Modes), res.Evaluations, res.Acceptance)
}

// TestFitResume interrupts a fit (cancel during sampling; and, as kill -9
// would leave it, a checkpoint copied mid-run), resumes it from its
// checkpoint and compares with an uninterrupted run.
func TestFitResume(t *testing.T) {
	ev, truth := noisyLens(t)
	dir := t.TempDir()
	// θ_E, e1, e2 and the amplitude free, the rest fixed at the truth.
	pr := lens.DefaultPriors(1.2)
	for _, i := range []int{lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
		pr.P[i].Fixed = true
	}
	start := fitStart(truth)
	copy(start[3:], truth[3:])
	opt := FitOptions{Starts: 2, MaxEval: 40, Walkers: 10, Steps: 8, Burn: 3, Samples: 8, Seed: 3, Fingerprint: "test"}
	o, _ := NewObjective(ev, pr, start, true, 0)
	full, err := Fit(context.Background(), o, opt)
	if err != nil {
		t.Fatal(err)
	}
	// Interrupted run: cancel after a few ensemble steps, with a checkpoint
	// written at every step.
	opt.Checkpoint = filepath.Join(dir, "ck.json")
	opt.CheckpointEvery = 1
	ctx, cancel := context.WithCancel(context.Background())
	o2, _ := NewObjective(ev, pr, start, true, 0)
	stopAfter := full.Evaluations - 4*10
	o2cancel := &cancelAfter{n: stopAfter, cancel: cancel}
	o2.hook = o2cancel.tick
	if _, err := Fit(ctx, o2, opt); err == nil {
		t.Fatal("interrupted fit returned no error")
	}
	if _, err := os.Stat(opt.Checkpoint); err != nil {
		t.Fatal(err)
	}
	opt.Resume = true
	o3, _ := NewObjective(ev, pr, start, true, 0)
	res, err := Fit(context.Background(), o3, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Chain, full.Chain) || !reflect.DeepEqual(res.Samples, full.Samples) || res.Evaluations != full.Evaluations {
		t.Errorf("resumed run differs from the uninterrupted one (evaluations %d vs %d)", res.Evaluations, full.Evaluations)
	}
	// kill -9: the checkpoint as it was on disk in the middle of a run that
	// then went on (no save at the interruption), copied and resumed.
	opt.Resume = false
	opt.Checkpoint = filepath.Join(dir, "ck2.json")
	snap := filepath.Join(dir, "snapshot.json")
	o4, _ := NewObjective(ev, pr, start, true, 0)
	taken := false
	o4.hook = func(evals int) {
		if !taken && evals >= full.Evaluations-5*10 {
			if b, err := os.ReadFile(opt.Checkpoint); err == nil {
				taken = os.WriteFile(snap, b, 0o644) == nil
			}
		}
	}
	if _, err := Fit(context.Background(), o4, opt); err != nil || !taken {
		t.Fatalf("snapshot run: %v (snapshot taken %v)", err, taken)
	}
	opt.Resume, opt.Checkpoint = true, snap
	o5, _ := NewObjective(ev, pr, start, true, 0)
	res, err = Fit(context.Background(), o5, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Chain, full.Chain) || !reflect.DeepEqual(res.Samples, full.Samples) || res.Evaluations != full.Evaluations {
		t.Errorf("run resumed from a mid-run snapshot differs from the uninterrupted one (evaluations %d vs %d)", res.Evaluations, full.Evaluations)
	}
	// A different fingerprint is refused.
	opt.Fingerprint = "other"
	if _, err := Fit(context.Background(), o3, opt); err == nil {
		t.Error("a checkpoint of different inputs was accepted")
	}
}

type cancelAfter struct {
	n      int
	cancel func()
}

func (c *cancelAfter) tick(evals int) {
	if evals >= c.n {
		c.cancel()
	}
}

// TestFitCoarse fits the small lens with the multi-start stage on a source
// grid twice as coarse: θ_E within 2 % at the refined MAP, which is at
// least as probable as the best coarse mode on the full grid, and most
// evaluations are coarse ones.
func TestFitCoarse(t *testing.T) {
	ev, truth := noisyLens(t)
	// θ_E, e1, e2 and the amplitude free, the rest fixed at the truth.
	pr := lens.DefaultPriors(1.2)
	for _, i := range []int{lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
		pr.P[i].Fixed = true
	}
	start := fitStart(truth)
	copy(start[3:], truth[3:])
	o, err := NewObjective(ev, pr, start, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Fit(context.Background(), o, FitOptions{Starts: 3, MaxEval: 200, Walkers: 8, Steps: 8, Burn: 4, Samples: 8, Seed: 1, Coarse: 2})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := o.Unpack(res.Modes[0].X)
	if rel := math.Abs(p[lens.PThetaE]/truth[lens.PThetaE] - 1); rel > 0.02 {
		t.Errorf("refined MAP θ_E %g, truth %g (%.1f %%)", p[lens.PThetaE], truth[lens.PThetaE], 100*rel)
	}
	if res.Refined == nil || res.Modes[0].Coarse || res.Refined.LogPost < o.LogPost(res.Refined.Start) {
		t.Errorf("the best mode was not refined: %+v, mode %+v", res.Refined, res.Modes[0])
	}
	for _, m := range res.Modes[1:] {
		if !m.Coarse {
			t.Errorf("mode %v is marked refined", m.X)
		}
	}
	// The flipped start ran on the coarse objective: its log posterior is
	// the coarse one at its end point.
	co, err := o.Coarsen(2)
	if err != nil {
		t.Fatal(err)
	}
	nflip := 0
	for _, s := range res.Starts {
		if s.Flip {
			nflip++
			if f := co.LogPost(s.X); f != s.LogPost {
				t.Errorf("flipped start: log posterior %g, coarse objective there %g (full %g)", s.LogPost, f, o.LogPost(s.X))
			}
		}
	}
	if nflip != 1 || len(res.Starts) != 4 {
		t.Errorf("%d starts, %d flipped; want 3 + 1 flipped", len(res.Starts), nflip)
	}
	if res.CoarseEvaluations <= res.Refined.Evals {
		t.Errorf("%d coarse evaluations, %d in the refinement", res.CoarseEvaluations, res.Refined.Evals)
	}
	t.Logf("MAP %v logp %.2f modes %d coarse evals %d, refinement %d, all fine %d", p, res.MAPLogPost, len(res.Modes), res.CoarseEvaluations, res.Refined.Evals, res.Evaluations)
}

// TestFitCoarseResume cancels a coarse-to-fine fit during the refinement,
// and once more during the Laplace approximation, and resumes it: the
// result equals the uninterrupted run's.
func TestFitCoarseResume(t *testing.T) {
	ev, truth := noisyLens(t)
	pr := lens.DefaultPriors(1.2)
	for _, i := range []int{lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
		pr.P[i].Fixed = true
	}
	start := fitStart(truth)
	copy(start[3:], truth[3:])
	opt := FitOptions{Starts: 2, MaxEval: 40, Walkers: 10, Steps: 8, Burn: 3, Samples: 8, Seed: 3, Fingerprint: "test", Coarse: 2}
	o, _ := NewObjective(ev, pr, start, true, 0)
	full, err := Fit(context.Background(), o, opt)
	if err != nil {
		t.Fatal(err)
	}
	opt.Checkpoint = filepath.Join(t.TempDir(), "ck.json")
	ctx, cancel := context.WithCancel(context.Background())
	o2, _ := NewObjective(ev, pr, start, true, 0)
	c := &cancelAfter{n: len(full.Modes) + 10, cancel: cancel} // inside the refinement
	o2.hook = c.tick
	if _, err := Fit(ctx, o2, opt); err == nil {
		t.Fatal("interrupted fit returned no error")
	}
	opt.Resume = true
	o3, _ := NewObjective(ev, pr, start, true, 0)
	res, err := Fit(context.Background(), o3, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Modes, full.Modes) || !reflect.DeepEqual(res.Chain, full.Chain) || !reflect.DeepEqual(res.Samples, full.Samples) ||
		res.Evaluations != full.Evaluations || res.CoarseEvaluations != full.CoarseEvaluations {
		t.Errorf("resumed run differs from the uninterrupted one (evaluations %d+%d vs %d+%d)",
			res.CoarseEvaluations, res.Evaluations, full.CoarseEvaluations, full.Evaluations)
	}
	// Cancelled inside the Laplace approximation (the checkpoint holds the
	// modes but no chains yet): it stops at once rather than finishing its
	// 2d + 2d² evaluations, and the resumed run equals the uninterrupted one.
	opt.Resume, opt.Checkpoint = false, filepath.Join(t.TempDir(), "ck2.json")
	ctx, cancel = context.WithCancel(context.Background())
	o4, _ := NewObjective(ev, pr, start, true, 0)
	at, last := -1, 0
	o4.hook = func(evals int) {
		last = evals
		if at < 0 {
			if c, err := readCheckpoint(opt.Checkpoint, opt.Fingerprint); err == nil && c.Modes != nil && c.Chains == nil {
				at = evals + 5
			}
		} else if evals >= at {
			cancel()
		}
	}
	if _, err := Fit(ctx, o4, opt); err == nil {
		t.Fatal("fit interrupted in the Laplace stage returned no error")
	}
	if at < 0 || last > at+1 {
		t.Errorf("cancelled at evaluation %d, last evaluation %d: the Laplace stage did not stop", at, last)
	}
	opt.Resume = true
	o5, _ := NewObjective(ev, pr, start, true, 0)
	res, err = Fit(context.Background(), o5, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Modes, full.Modes) || !reflect.DeepEqual(res.Laplace, full.Laplace) || !reflect.DeepEqual(res.Chain, full.Chain) ||
		!reflect.DeepEqual(res.Samples, full.Samples) || res.Evaluations != full.Evaluations || res.CoarseEvaluations != full.CoarseEvaluations {
		t.Errorf("run resumed from the Laplace stage differs from the uninterrupted one (evaluations %d+%d vs %d+%d)",
			res.CoarseEvaluations, res.Evaluations, full.CoarseEvaluations, full.Evaluations)
	}
}

// TestRefineMatchesNelderMead: from the coarse optimum, the whitened BFGS
// refinement reaches the full objective's maximum found by Nelder–Mead
// (to 0.05 in log p) with fewer than half its evaluations.
func TestRefineMatchesNelderMead(t *testing.T) {
	ev, truth := noisyLens(t)
	pr := lens.DefaultPriors(1.2)
	for _, i := range []int{lens.PCenterX, lens.PCenterY, lens.PGamma1, lens.PGamma2} {
		pr.P[i].Fixed = true
	}
	start := fitStart(truth)
	copy(start[3:], truth[3:])
	o, _ := NewObjective(ev, pr, start, true, 0)
	co, err := o.Coarsen(2)
	if err != nil {
		t.Fatal(err)
	}
	steps, bg, none := o.Steps(), context.Background(), func() {}
	c, err := maximiseTwice(bg, co, o.Pack(start, 0), steps, 1, coarseFTol, coarseXTol, 600, none)
	if err != nil {
		t.Fatal(err)
	}
	r, err := refine(bg, o, co, c.X, steps, 600, none)
	if err != nil {
		t.Fatal(err)
	}
	nm, err := maximiseTwice(bg, o, c.X, steps, 0.3, 1e-2, 1e-3, 600, none)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.F-nm.F) > 0.05 || !r.Conv || 2*r.Evals > nm.Evals {
		t.Errorf("refinement: log p %.4f in %d evaluations (converged %v); Nelder–Mead %.4f in %d", r.F, r.Evals, r.Conv, nm.F, nm.Evals)
	}
	t.Logf("coarse optimum log p %.2f on the full grid; refinement %.4f (%d evaluations), Nelder–Mead %.4f (%d)", o.LogPost(c.X), r.F, r.Evals, nm.F, nm.Evals)
}
