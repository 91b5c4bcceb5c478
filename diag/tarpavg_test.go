package diag

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTARPAveragedHandComputed: one simulation in one dimension, truth 0,
// samples 0.2 and 1, references uniform on [0, 1] (the box of all three).
// The truth is the closest for r < 0.1 (c = 0), second for 0.1 < r < 0.5
// (c = 1) and last for r > 0.5 (c = 2), so with f = (c + U)/3,
// ECP(0.33) = 0.1·0.99 and ECP(0.67) = 0.1 + 0.4 + 0.5·0.01 (the
// standardisation is affine and changes no rank).
func TestTARPAveragedHandComputed(t *testing.T) {
	r, err := TARPAveraged([][][]float64{{{0.2}, {1}}}, [][]float64{{0}}, TARPAvgOptions{References: 200000, Permutations: -1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ a, want float64 }{{0.33, 0.099}, {0.67, 0.1 + 0.4 + 0.5*0.01}, {0.1, 0.1 * 0.3}, {0.9, 0.5 + 0.5*0.7}} {
		got := r.ECP[int(math.Round(c.a*100))]
		if math.Abs(got-c.want) > 0.004 {
			t.Errorf("ECP(%.2f) = %.4f, want %.4f", c.a, got, c.want)
		}
	}
	if !math.IsNaN(r.PValue) || r.NullSigma != nil {
		t.Errorf("no permutations asked, got p = %v, null σ %v", r.PValue, r.NullSigma)
	}
}

// TestTARPAveragedNull checks the exchangeability null on calibrated
// Gaussian posteriors: over 40 independent data sets the p-values are not
// small more often than chance (at most 10 of 40 below 0.1, ≈ 4 expected);
// with one reference per simulation its median agrees with the uniform null
// of TARP (NullMaxDev); and averaging over 32 references shrinks both the
// null median and the observed deviation.
func TestTARPAveragedNull(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	const J, K, d = 40, 3, 6
	low := 0
	var dev1, dev32, med1, med32 float64
	for range 40 {
		sm, tr := gaussSims(J, d, K, 1, 0, rng.Uint64())
		r, err := TARPAveraged(sm, tr, TARPAvgOptions{References: 32, Permutations: 200, Seed: rng.Uint64()})
		if err != nil {
			t.Fatal(err)
		}
		if r.PValue < 0.1 {
			low++
		}
		r1, err := TARPAveraged(sm, tr, TARPAvgOptions{References: 1, Permutations: 200, Seed: rng.Uint64()})
		if err != nil {
			t.Fatal(err)
		}
		dev1, dev32, med1, med32 = dev1+r1.MaxDev/40, dev32+r.MaxDev/40, med1+r1.NullMedian/40, med32+r.NullMedian/40
	}
	if low > 10 {
		t.Errorf("calibrated data: %d of 40 p-values below 0.1", low)
	}
	ks := make([]int, J)
	for j := range ks {
		ks[j] = K
	}
	alpha := make([]float64, 101)
	for a := range alpha {
		alpha[a] = float64(a) / 100
	}
	uni := quantile(NullMaxDev(nil, ks, alpha, true, 4000, rand.New(rand.NewPCG(2, 2))), 0.5)
	t.Logf("R=1: mean max dev %.3f, mean null median %.3f (uniform null %.3f); R=32: %.3f, %.3f", dev1, med1, uni, dev32, med32)
	if math.Abs(med1-uni) > 0.01 {
		t.Errorf("one reference: permutation null median %.3f, uniform null %.3f", med1, uni)
	}
	if !(med32 < 0.8*med1) || !(dev32 < 0.8*dev1) {
		t.Errorf("32 references: null median %.3f and deviation %.3f, one reference %.3f and %.3f", med32, dev32, med1, dev1)
	}
}

// TestTARPAveragedDetects: samples 40 % too narrow or 60 % too wide are
// rejected (p < 0.01, deviation above the null's 95 % level), and the
// result is reproducible for a seed.
func TestTARPAveragedDetects(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, w := range []float64{0.6, 1.6} {
		sm, tr := gaussSims(50, 8, 3, w, 0, rng.Uint64())
		r, err := TARPAveraged(sm, tr, TARPAvgOptions{References: 16, Permutations: 500, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		if r.PValue >= 0.01 || r.MaxDev <= r.Null95 {
			t.Errorf("width %.1f: max dev %.3f (null 95 %% %.3f), p = %.4f", w, r.MaxDev, r.Null95, r.PValue)
		}
		again, _ := TARPAveraged(sm, tr, TARPAvgOptions{References: 16, Permutations: 500, Seed: 5})
		if again.MaxDev != r.MaxDev || again.PValue != r.PValue || again.ECP[37] != r.ECP[37] {
			t.Errorf("width %.1f: not reproducible", w)
		}
	}
}

func TestTARPAveragedErrors(t *testing.T) {
	ok := [][][]float64{{{1, 2}, {2, 3}}, {{0, 1}, {1, 1}}}
	truths := [][]float64{{1, 1}, {0, 0}}
	for _, c := range []struct {
		name string
		sm   [][][]float64
		tr   [][]float64
		opt  TARPAvgOptions
		want string
	}{
		{"count", ok[:1], truths, TARPAvgOptions{}, "sample sets"},
		{"K", [][][]float64{{{1, 2}, {2, 3}}, {{0, 1}}}, truths, TARPAvgOptions{}, "same K"},
		{"dimension", ok, [][]float64{{1, 1}, {0}}, TARPAvgOptions{}, "length"},
		{"NaN", [][][]float64{{{1, math.NaN()}, {2, 3}}, {{0, 1}, {1, 1}}}, truths, TARPAvgOptions{}, "non-finite"},
		{"refs", ok, truths, TARPAvgOptions{References: -1}, "References"},
	} {
		if _, err := TARPAveraged(c.sm, c.tr, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
