package diag

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gaussSims draws J simulations of d coordinates: truth and K samples from
// N(μ_j, 1) with μ_j random, then the samples are scaled about μ_j by
// scale and shifted by shift.
func gaussSims(j, d, k int, scale, shift float64, seed uint64) ([][][]float64, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	samples := make([][][]float64, j)
	truths := make([][]float64, j)
	for s := range j {
		mu := make([]float64, d)
		t := make([]float64, d)
		for i := range mu {
			mu[i] = 3 * rng.NormFloat64()
			t[i] = mu[i] + rng.NormFloat64()
		}
		truths[s] = t
		for range k {
			x := make([]float64, d)
			for i := range x {
				x[i] = mu[i] + scale*rng.NormFloat64() + shift
			}
			samples[s] = append(samples[s], x)
		}
	}
	return samples, truths
}

func TestSpreadSkill(t *testing.T) {
	for _, tc := range []struct {
		scale, shift, want, tol float64
	}{
		{1, 0, 1, 0.04},     // calibrated: E‖t−m̄‖² = (1+1/K) tr Σ
		{0.5, 0, 3.4, 0.15}, // over-confident: samples half as wide
		{2, 0, 0.4, 0.02},   // over-dispersed
		{1, 0.5, 1.2, 0.05}, // offset of the mean
	} {
		const K = 4
		s, tr := gaussSims(500, 20, K, tc.scale, tc.shift, 7)
		got, err := SpreadSkill(s, tr)
		if err != nil {
			t.Fatal(err)
		}
		// Exact expectation ratio: ‖t−m̄‖² has per-coordinate mean
		// 1 + scale²/K + shift², the spread (1+1/K)·scale².
		want := (1 + tc.scale*tc.scale/K + tc.shift*tc.shift) / ((1 + 1.0/K) * tc.scale * tc.scale)
		if math.Abs(want-tc.want) > 0.1*tc.want {
			t.Fatalf("test table: want %g, analytic %g", tc.want, want)
		}
		if math.Abs(got-want) > tc.tol*want/tc.want {
			t.Errorf("scale %g shift %g: SpreadSkill = %.4f, want %.4f", tc.scale, tc.shift, got, want)
		}
	}
	if _, err := SpreadSkill([][][]float64{{{1, 2}}}, [][]float64{{1, 2}}); err == nil {
		t.Error("K = 1 accepted")
	}
	if _, err := SpreadSkill([][][]float64{{{1, 2}, {1}}}, [][]float64{{1, 2}}); err == nil {
		t.Error("ragged sample accepted")
	}
}

func TestPixelRanks(t *testing.T) {
	const K = 3
	s, tr := gaussSims(400, 25, K, 1, 0, 9)
	bins, err := PixelRanks(s, tr, []float64{-2, 0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != 4 {
		t.Fatalf("%d bins", len(bins))
	}
	all := make([]float64, K+1)
	frac := 0.0
	for _, b := range bins {
		frac += b.Fraction
		for r, h := range b.Hist {
			all[r] += h * b.Fraction
		}
		if b.Pixels > 0 && math.Abs(b.Spread-0.886) > 0.05 { // E s for K = 3, σ = 1: Γ-ratio ≈ 0.886
			t.Errorf("bin (%g, %g]: spread %.3f", b.Lo, b.Hi, b.Spread)
		}
	}
	if math.Abs(frac-1) > 1e-12 {
		t.Errorf("fractions sum to %g", frac)
	}
	for r, h := range all {
		if math.Abs(h-1.0/(K+1)) > 0.01 {
			t.Errorf("all pixels: rank %d has %.4f, want %.4f", r, h, 1.0/(K+1))
		}
	}
	// Hand-made case: truth 0 below every sample, truth 1 tied with two
	// samples, truth 5 above all.
	samples := [][][]float64{{{0.1, 1, 2}, {0.2, 1, 3}, {0.3, 0.5, 4}}}
	truth := [][]float64{{0, 1, 5}}
	bins, err = PixelRanks(samples, truth, []float64{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if b := bins[0]; b.Pixels != 1 || b.Hist[0] != 1 || math.Abs(b.Bias-0.2) > 1e-12 || math.Abs(b.Spread-0.1) > 1e-12 {
		t.Errorf("zero bin: %+v", b)
	}
	// truth 1: one sample below (0.5), two equal → ranks 1, 2, 3 with 1/3 each
	if b := bins[1]; b.Pixels != 1 || math.Abs(b.Hist[1]-1.0/3) > 1e-12 || math.Abs(b.Hist[3]-1.0/3) > 1e-12 || b.Hist[0] != 0 {
		t.Errorf("tie bin: %+v", b)
	}
	if b := bins[2]; b.Pixels != 1 || b.Hist[3] != 1 || math.Abs(b.Bias+2) > 1e-12 {
		t.Errorf("bright bin: %+v", b)
	}
	if *bins[1].LoJSON != 0 || *bins[1].HiJSON != 2 || bins[0].LoJSON != nil || bins[2].HiJSON != nil {
		t.Error("bin edges for JSON")
	}
	if _, err := PixelRanks(samples, truth, []float64{2, 0}); err == nil {
		t.Error("decreasing edges accepted")
	}
}
