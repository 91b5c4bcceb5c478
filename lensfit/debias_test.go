package lensfit

import (
	"context"
	"math"
	"testing"

	"github.com/lenscore/lenscore/lens"
)

// TestApplyOffsets: the kept draws are shifted by −b_(i mod K) in the order
// step by step, chain by chain, the burn-in is left alone, and the thinned
// samples by −b_(i mod K); with K dividing the counts the means move by
// exactly −b̄.
func TestApplyOffsets(t *testing.T) {
	res := &FitResult{Names: []string{"theta_e", "e1"}, Burn: 1}
	for s := 0; s < 3; s++ {
		var st [][]float64
		for w := 0; w < 2; w++ {
			st = append(st, []float64{float64(10*s + w), float64(-s)})
		}
		res.Chain = append(res.Chain, st)
	}
	res.Samples = [][]float64{{1, 1}, {2, 2}, {3, 3}, {4, 4}}
	res.MAP = res.Chain[2][1] // a chain state, as when MAPFromChain
	b := [][]float64{{0.5, -1}, {0.25, 2}}
	if err := ApplyOffsets(res, b); err != nil {
		t.Fatal(err)
	}
	want := [][][]float64{{{0, 0}, {1, 0}}, {{9.5, 0}, {10.75, -3}}, {{19.5, -1}, {20.75, -4}}}
	for s := range want {
		for w := range want[s] {
			for j := range want[s][w] {
				if res.Chain[s][w][j] != want[s][w][j] {
					t.Errorf("chain step %d walker %d param %d: %g, want %g", s, w, j, res.Chain[s][w][j], want[s][w][j])
				}
			}
		}
	}
	ws := [][]float64{{0.5, 2}, {1.75, 0}, {2.5, 4}, {3.75, 2}}
	for i := range ws {
		for j := range ws[i] {
			if res.Samples[i][j] != ws[i][j] {
				t.Errorf("sample %d param %d: %g, want %g", i, j, res.Samples[i][j], ws[i][j])
			}
		}
	}
	if res.MAP[0] != 21 || res.MAP[1] != -2 {
		t.Errorf("the MAP moved with the chain state it was: %v", res.MAP)
	}
	if err := ApplyOffsets(res, [][]float64{{1}}); err == nil {
		t.Error("an offset of the wrong length was accepted")
	}
	if err := ApplyOffsets(res, nil); err == nil {
		t.Error("no offsets were accepted")
	}
}

// TestSourceOffsetsNoiseFreeFit: on noise-free data of a source the
// Gaussian prior did not draw, the refit of that source's own image from
// the maximum found on it returns (nearly) no offset — the maximum is a
// fixed point — while the refit of a different source (the same galaxy
// shifted by a pixel) returns a non-zero one; the amplitude's offset is 0.
func TestSourceOffsetsNoiseFreeFit(t *testing.T) {
	cfg, d, g, truth := smallProblem(t, 20, 8)
	src := lens.Render(lens.Sersic{Amp: 1, RSersic: 0.1, NSersic: 1, Q: 0.7, Phi: 0.4, CenterX: 0.03}, cfg.Src, 2)
	op, err := lens.NewOperator(truth.Mass(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float64, len(d.Y))
	op.Apply(y, src)
	pr := lens.DefaultPriors(1.2)
	refit := func(y []float64) (*Objective, error) {
		ev, err := NewEvidence(cfg, Data{Y: y, SigmaN: d.SigmaN, Keep: d.Keep}, g)
		if err != nil {
			return nil, err
		}
		return NewObjective(ev, pr, truth, true, 0)
	}
	o, err := refit(y)
	if err != nil {
		t.Fatal(err)
	}
	x, _, _, err := MaximiseNear(context.Background(), o, o.Pack(truth, 0))
	if err != nil {
		t.Fatal(err)
	}
	mp, _ := o.Unpack(x)
	at, err := lens.NewOperator(mp.Mass(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	shifted := lens.Render(lens.Sersic{Amp: 1, RSersic: 0.1, NSersic: 1, Q: 0.7, Phi: 0.4, CenterX: 0.03 + cfg.Src.Scale, CenterY: -0.5 * cfg.Src.Scale}, cfg.Src, 2)
	// The image of src through the fitted lens is not y (the fit is offset
	// from the truth), so the fixed point is checked with the operator of
	// the truth: refitting y itself from x must stay at x.
	offs, evals, err := SourceOffsets(context.Background(), refit, x, op, [][]float64{src})
	if err != nil {
		t.Fatal(err)
	}
	if evals <= 0 {
		t.Errorf("%d evaluations", evals)
	}
	sd := o.Steps()
	t.Logf("fixed point offsets %g, steps %g", offs[0], sd)
	for i, b := range offs[0] {
		if math.Abs(b) > 0.01*sd[i] {
			t.Errorf("refit of the fitted data itself moved parameter %s by %g (step %g)", o.Names()[i], b, sd[i])
		}
	}
	offs, _, err = SourceOffsets(context.Background(), refit, x, at, [][]float64{shifted})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("shifted-source offsets %g", offs[0])
	moved := 0.0
	for i, b := range offs[0] {
		if o.Names()[i] == ScaleName && b != 0 {
			t.Errorf("the amplitude's offset is %g, want 0", b)
		}
		moved = math.Max(moved, math.Abs(b))
	}
	if !(moved > 1e-4) {
		t.Error("a different source gave no offset at all")
	}
	if _, _, err := SourceOffsets(context.Background(), refit, x, op, [][]float64{{1, 2}}); err == nil {
		t.Error("a source of the wrong size was accepted")
	}
}
