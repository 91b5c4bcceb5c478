package diag

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bayesSims draws J problems of d independent pixels with prior
// x ~ N(0, 1) and data y = x + N(0, 1); the exact posterior is
// N(y/2, 1/2). The K samples are y/2 + scale·√½·z: calibrated for
// scale 1, over-confident below it.
func bayesSims(J, d, K int, scale float64, seed uint64) ([][][]float64, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	samples := make([][][]float64, J)
	truths := make([][]float64, J)
	for j := range J {
		x := make([]float64, d)
		mu := make([]float64, d)
		for i := range x {
			x[i] = rng.NormFloat64()
			mu[i] = (x[i] + rng.NormFloat64()) / 2
		}
		truths[j] = x
		for range K {
			s := make([]float64, d)
			for i := range s {
				s[i] = mu[i] + scale*math.Sqrt(0.5)*rng.NormFloat64()
			}
			samples[j] = append(samples[j], s)
		}
	}
	return samples, truths
}

func TestHeldOutRanksExactPerBin(t *testing.T) {
	const K = 4
	edges := []float64{-1, 0, 1}
	s, tr := bayesSims(300, 100, K, 1, 3)
	// Binning by the truth skews the outer bins of this exact posterior
	// (the regression to the mean HeldOutRanks avoids).
	byTruth, err := PixelRanks(s, tr, edges)
	if err != nil {
		t.Fatal(err)
	}
	if h := byTruth[len(byTruth)-1].Hist; h[K] < 0.35 {
		t.Errorf("truth > 1: truth above all samples %.3f; expected the skew of conditioning on the truth", h[K])
	}
	bins, err := HeldOutRanks(s, tr, edges)
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) != 4 {
		t.Fatalf("%d bins", len(bins))
	}
	frac := 0.0
	for _, b := range bins {
		frac += b.Fraction
		// ≥ 2,800 pixels per bin: the binomial sd of a rank fraction is ≤ 0.009.
		for r, h := range b.Hist {
			if math.Abs(h-1.0/(K-1+1)) > 0.03 {
				t.Errorf("bin (%g, %g]: rank %d has %.3f, want %.3f", b.Lo, b.Hi, r, h, 1.0/K)
			}
		}
		if math.Abs(b.SpreadSkill-1) > 0.1 {
			t.Errorf("bin (%g, %g]: spread-skill %.3f, want 1", b.Lo, b.Hi, b.SpreadSkill)
		}
	}
	if math.Abs(frac-1) > 1e-12 {
		t.Errorf("fractions sum to %g", frac)
	}
	// Over-confident samples (70 % of the posterior's width): the truth
	// falls outside the samples' range too often in every bin.
	s, tr = bayesSims(300, 100, K, 0.7, 4)
	bins, err = HeldOutRanks(s, tr, edges)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bins {
		if b.Outside < 2.0/K+0.06 || b.SpreadSkill < 1.5 {
			t.Errorf("over-confident, bin (%g, %g]: outside %.3f (calibrated %.3f), spread-skill %.2f", b.Lo, b.Hi, b.Outside, 2.0/K, b.SpreadSkill)
		}
	}
}

func TestHeldOutRanksCounts(t *testing.T) {
	// Pixel 0: held out 0.05 (bin 0), truth 1 among {0, 2}: rank 1.
	// Pixel 1: held out 5 (bin 1), truth 3 tied with one sample, below the other: ranks 0, 1 half each.
	// Pixel 2: NaN truth, skipped.
	samples := [][][]float64{{{0.05, 5, 1}, {0, 3, 1}, {2, 4, 1}}}
	truths := [][]float64{{1, 3, math.NaN()}}
	bins, err := HeldOutRanks(samples, truths, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	if b := bins[0]; b.Pixels != 1 || b.Hist[1] != 1 || b.Outside != 0 || b.HiJSON == nil || *b.HiJSON != 1 || b.LoJSON != nil {
		t.Errorf("bin 0: %+v", b)
	}
	if b := bins[1]; b.Pixels != 1 || b.Hist[0] != 0.5 || b.Hist[1] != 0.5 || b.Outside != 0.5 {
		t.Errorf("bin 1: %+v", b)
	}
	// spread-skill of pixel 0: mean 1, error 0, spread (1 + 1/2)·2 → 0.
	if b := bins[0]; b.SpreadSkill != 0 {
		t.Errorf("bin 0 spread-skill %g, want 0", b.SpreadSkill)
	}
	if _, err := HeldOutRanks([][][]float64{{{1}}}, [][]float64{{1}}, nil); err == nil {
		t.Error("K = 1 accepted")
	}
	if _, err := HeldOutRanks(samples, truths, []float64{1, 0}); err == nil {
		t.Error("decreasing edges accepted")
	}
}

func TestImageStatistics(t *testing.T) {
	// 3 wide, 3 high.
	x := []float64{
		0, 1, 0,
		2, 5, 1,
		0, 1, 3,
	}
	st := ImageStatistics(3)
	want := map[string]float64{
		"flux":   13,
		"energy": 0 + 1 + 0 + 4 + 25 + 1 + 0 + 1 + 9,
		// horizontal differences 1, −1 | 3, −4 | 1, 2; vertical 2, 4, 1 | −2, −4, 2
		"gradient":  1 + 1 + 9 + 16 + 1 + 4 + 4 + 16 + 1 + 4 + 16 + 4,
		"laplacian": (20 - 1 - 1 - 2 - 1) * (20 - 1 - 1 - 2 - 1),
		// border (width 1) 0 1 0 2 1 0 1 3, median 1; |deviations| 1 0 1 1
		// 0 1 0 2, median 1
		"sky noise": madScale,
		"negative":  0,
	}
	for _, s := range st {
		if got := s.F(x); got != want[s.Name] {
			t.Errorf("%s = %g, want %g", s.Name, got, want[s.Name])
		}
	}
	if len(st) != len(want) {
		t.Errorf("%d statistics", len(st))
	}
}

// TestSkyNoise: the border estimate recovers the standard deviation of
// Gaussian sky noise around a bright centre it must ignore, a clipped sky
// reads low, and the border width defaults to width/16.
func TestSkyNoise(t *testing.T) {
	const w, h, s = 64, 48, 0.03
	rng := rand.New(rand.NewPCG(4, 2))
	x := make([]float64, w*h)
	for i := range x {
		x[i] = 0.2 + s*rng.NormFloat64()
	}
	for r := 8; r < h-8; r++ {
		for c := 8; c < w-8; c++ {
			x[r*w+c] += 100 // the galaxy: outside the 4-pixel border
		}
	}
	got := SkyNoise(x, w, 0)
	// 4-pixel border of 64×48: 64·48 − 56·40 = 832 pixels; the MAD's
	// relative standard error is ≈ 1.65/√n ≈ 6 %.
	if math.Abs(got/s-1) > 0.15 {
		t.Errorf("sky noise %.4f, want %.4f", got, s)
	}
	if g8 := SkyNoise(x, w, 8); math.Abs(g8/s-1) > 0.15 {
		t.Errorf("8-pixel border: %.4f, want %.4f", g8, s)
	}
	if g := SkyNoise(x[:w*8], w, 0); math.Abs(g/s-1) > 0.15 {
		t.Errorf("a 64×8 strip of sky: %.4f, want %.4f", g, s)
	}
	clip := make([]float64, len(x))
	for i, v := range x {
		clip[i] = max(v-0.2, 0)
	}
	if g := SkyNoise(clip, w, 0); !(g < 0.7*s) {
		t.Errorf("clipped sky %.4f, want below %.4f", g, 0.7*s)
	}
	neg := ImageStatistics(w)[5]
	if f := neg.F(clip); f != 0 {
		t.Errorf("negative fraction of a clipped image %g", f)
	}
	if m := Median(nil); !math.IsNaN(m) {
		t.Errorf("median of nothing %g", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median %g, want 2.5", m)
	}
	if f := neg.F([]float64{-1, 0, 2, -3}); f != 0.5 {
		t.Errorf("negative fraction %g, want 0.5", f)
	}
}

func TestStatRanks(t *testing.T) {
	const K = 3
	stats := ImageStatistics(10)
	s, tr := bayesSims(400, 100, K, 1, 5)
	res, err := StatRanks(s, tr, stats, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		n := 0
		for _, c := range r.Hist {
			n += c
		}
		if n != 400 || r.PValue < 0.001 {
			t.Errorf("calibrated %s: hist %v (sum %d), p = %.2g", r.Name, r.Hist, n, r.PValue)
		}
	}
	// Over-confident samples have too little pixel variance: the energy,
	// gradient and laplacian of the truth exceed every sample's.
	s, tr = bayesSims(400, 100, K, 0.7, 6)
	res, err = StatRanks(s, tr, stats, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res[1:5] {
		if r.PValue > 1e-6 || r.Hist[K] < 200 || !(r.MeanTruth > r.MeanSamples) {
			t.Errorf("over-confident %s: hist %v, p = %.2g, mean T truth %.1f samples %.1f", r.Name, r.Hist, r.PValue, r.MeanTruth, r.MeanSamples)
		}
	}
	// Ties: a truth equal to every sample takes a uniformly random rank.
	one := [][][]float64{{{1}, {1}, {1}}}
	var hist [4]int
	for seed := range uint64(400) {
		r, err := StatRanks(one, [][]float64{{1}}, stats[:1], seed)
		if err != nil {
			t.Fatal(err)
		}
		for q, c := range r[0].Hist {
			hist[q] += c
		}
	}
	for q, c := range hist {
		if c < 70 || c > 130 {
			t.Errorf("tied ranks %v: rank %d drawn %d times of 400", hist, q, c)
		}
	}
	if _, err := StatRanks([][][]float64{{{math.NaN()}}}, [][]float64{{1}}, stats[:1], 1); err == nil {
		t.Error("NaN sample accepted")
	}
}
