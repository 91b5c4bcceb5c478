package diag

import (
	"math"
	"math/rand/v2"
	"testing"
)

// dense is a test Forward: row-major m×n matrix.
type dense struct {
	m, n int
	a    []float64
}

func (d *dense) Dims() (int, int) { return d.m, d.n }
func (d *dense) Apply(dst, x []float64) {
	for i := range d.m {
		var s float64
		for j, v := range d.a[i*d.n : (i+1)*d.n] {
			s += v * x[j]
		}
		dst[i] = s
	}
}

// blur is a sparse test Forward: a 3-tap horizontal blur scaled by 2, m = n.
type blur struct{ n int }

func (b blur) Dims() (int, int) { return b.n, b.n }
func (b blur) Apply(dst, x []float64) {
	for i := range dst {
		s := 2 * x[i]
		if i > 0 {
			s += x[i-1]
		}
		if i+1 < len(x) {
			s += x[i+1]
		}
		dst[i] = s / 2
	}
}

func TestAccumulatorMatchesTwoPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const K, n = 37, 11
	samples := make([][]float64, K)
	for k := range samples {
		samples[k] = make([]float64, n)
		for i := range samples[k] {
			// Large offset: the naive Σx² − (Σx)²/K formula loses all digits.
			samples[k][i] = 1e8 + float64(i) + 0.01*rng.NormFloat64()
		}
	}
	mean, std, err := MeanStd(samples)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var s float64
		for k := range K {
			s += samples[k][i] - 1e8
		}
		m := s/K + 1e8
		var ss float64
		for k := range K {
			d := samples[k][i] - m
			ss += d * d
		}
		sd := math.Sqrt(ss / (K - 1))
		if math.Abs(mean[i]-m) > 1e-7 {
			t.Errorf("mean[%d] = %.10f, want %.10f", i, mean[i], m)
		}
		if math.Abs(std[i]-sd) > 1e-6*sd {
			t.Errorf("std[%d] = %g, want %g", i, std[i], sd)
		}
	}
	if _, _, err := MeanStd([][]float64{{1, 2}, {1}}); err == nil {
		t.Error("MeanStd accepted ragged samples")
	}
	acc := NewAccumulator(3)
	acc.Add([]float64{1, 2, 3})
	if s := acc.Std(nil); s[0] != 0 || s[2] != 0 {
		t.Errorf("std of one sample = %v, want zeros", s)
	}
}

func TestPearsonRMSE(t *testing.T) {
	a := []float64{1, 2, 3, 4}
	b := []float64{2, 4, 6, 8}
	c := []float64{4, 3, 2, 1}
	if r, _ := Pearson(a, b); math.Abs(r-1) > 1e-15 {
		t.Errorf("Pearson(a, 2a) = %g, want 1", r)
	}
	if r, _ := Pearson(a, c); math.Abs(r+1) > 1e-15 {
		t.Errorf("Pearson(a, reversed) = %g, want −1", r)
	}
	// Hand value: a=(1,2,3,4), d=(1,3,2,4): Σ da·dd = 4, Σ da² = 5 → ρ = 0.8.
	if r, _ := Pearson(a, []float64{1, 3, 2, 4}); math.Abs(r-0.8) > 1e-15 {
		t.Errorf("Pearson = %g, want 0.8", r)
	}
	if e, _ := RMSE(a, c); math.Abs(e-math.Sqrt(5)) > 1e-15 {
		t.Errorf("RMSE = %g, want √5", e)
	}
	if _, err := RMSE(a, b[:3]); err == nil {
		t.Error("RMSE accepted different lengths")
	}
}

func TestChiSquaredTiny(t *testing.T) {
	A := &dense{m: 3, n: 2, a: []float64{1, 0, 0, 2, 1, 1}}
	x := []float64{1, 2}     // A x = (1, 4, 3)
	y := []float64{2, 3, 10} // residuals (1, −1, 7)
	// σ = 0.5, pixel 2 masked: ((1/0.5)² + (−1/0.5)²)/2 = 4.
	chi, nu, err := ChiSquaredNu(A, y, x, nil, Noise{Sigma: 0.5, Mask: []bool{false, false, true}})
	if err != nil {
		t.Fatal(err)
	}
	if nu != 2 || math.Abs(chi-4) > 1e-15 {
		t.Errorf("χ²_ν = %g (ν=%d), want 4 (ν=2)", chi, nu)
	}
	// Per-pixel σ = (1, 0.5, 7): (1 + 4 + 1)/3 = 2.
	chi, nu, _ = ChiSquaredNu(A, y, x, nil, Noise{Map: []float64{1, 0.5, 7}})
	if nu != 3 || math.Abs(chi-2) > 1e-15 {
		t.Errorf("χ²_ν = %g (ν=%d), want 2 (ν=3)", chi, nu)
	}
	r := make([]float64, 3)
	nu, _ = ImageResidualSNR(r, A, y, x, Noise{Sigma: 0.5, Mask: []bool{false, true, false}})
	if nu != 2 || r[0] != 2 || !math.IsNaN(r[1]) || r[2] != 14 {
		t.Errorf("residual SNR = %v (ν=%d), want [2 NaN 14] (ν=2)", r, nu)
	}
	if m, s, n := FiniteMeanStd(r); n != 2 || m != 8 || s != 6 {
		t.Errorf("FiniteMeanStd = %g, %g, %d; want 8, 6, 2", m, s, n)
	}
	for _, nz := range []Noise{{}, {Sigma: -1}, {Map: []float64{1, 0, 1}}, {Sigma: 1, Mask: []bool{true}}} {
		if _, _, err := ChiSquaredNu(A, y, x, nil, nz); err == nil {
			t.Errorf("Noise %+v accepted", nz)
		}
	}
	if _, _, err := ChiSquaredNu(A, y, x, nil, Noise{Sigma: 1, Mask: []bool{true, true, true}}); err == nil {
		t.Error("fully masked image accepted")
	}
}

func TestChiSquaredGaussianNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n = 8192
	var A Forward = blur{n}
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Sin(float64(i) / 50)
	}
	y := make([]float64, n)
	A.Apply(y, x)
	sig := make([]float64, n)
	for i := range y {
		sig[i] = 0.05 + 0.1*float64(i%7)
		y[i] += sig[i] * rng.NormFloat64()
	}
	buf := make([]float64, n)
	chi, nu, err := ChiSquaredNu(A, y, x, buf, Noise{Map: sig})
	if err != nil {
		t.Fatal(err)
	}
	if sd := ChiSquaredNuStd(nu); math.Abs(chi-1) > 4*sd {
		t.Errorf("χ²_ν = %.4f, want 1 ± %.4f (4σ)", chi, 4*sd)
	}
	// Noise twice as large as stated → χ²_ν ≈ 4.
	chi, _, _ = ChiSquaredNu(A, y, x, buf, Noise{Map: scale(sig, 0.5)})
	if math.Abs(chi-4) > 0.2 {
		t.Errorf("χ²_ν with σ/2 = %.3f, want ≈ 4", chi)
	}
	nz := Noise{Map: sig}
	allocs := testing.AllocsPerRun(10, func() {
		ChiSquaredNu(A, y, x, buf, nz)
		ImageResidualSNR(buf, A, y, x, nz)
	})
	if allocs != 0 {
		t.Errorf("ChiSquaredNu/ImageResidualSNR allocate %.0f times per call", allocs)
	}
}

func scale(v []float64, a float64) []float64 {
	o := make([]float64, len(v))
	for i := range v {
		o[i] = a * v[i]
	}
	return o
}

func TestSourceResidualSNR(t *testing.T) {
	dst := make([]float64, 3)
	if err := SourceResidualSNR(dst, []float64{1, 2, 3}, []float64{0, 4, 3}, []float64{0.5, 2, 0}); err != nil {
		t.Fatal(err)
	}
	if dst[0] != 2 || dst[1] != -1 || !math.IsNaN(dst[2]) {
		t.Errorf("SourceResidualSNR = %v, want [2 −1 NaN]", dst)
	}
}

// TestRangeCoverage: truth and samples i.i.d. (calibrated) give (K−1)/(K+1)
// within Monte Carlo error for K = 2, 4, 8; samples with half the spread
// (over-confident) give much less, with twice the spread more; bad input
// is refused.
func TestRangeCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const d = 40000
	for _, k := range []int{2, 4, 8} {
		for _, tc := range []struct {
			scale  float64
			cmp    int // −1 below, 0 equal, +1 above the calibrated value
			tolSig float64
		}{{1, 0, 4}, {0.5, -1, 0}, {2, 1, 0}} {
			truth := make([]float64, d)
			for i := range truth {
				truth[i] = rng.NormFloat64()
			}
			samples := make([][]float64, k)
			for j := range samples {
				samples[j] = make([]float64, d)
				for i := range samples[j] {
					samples[j][i] = tc.scale * rng.NormFloat64()
				}
			}
			got, err := RangeCoverage(samples, truth)
			if err != nil {
				t.Fatal(err)
			}
			want := RangeCoverageExpected(k)
			sig := math.Sqrt(want * (1 - want) / d)
			switch {
			case tc.cmp == 0 && math.Abs(got-want) > tc.tolSig*sig:
				t.Errorf("K=%d calibrated: %.4f, want %.4f ± %.4f", k, got, want, tc.tolSig*sig)
			case tc.cmp < 0 && got > want-0.1:
				t.Errorf("K=%d over-confident: %.4f, want well below %.4f", k, got, want)
			case tc.cmp > 0 && got < want+0.05:
				t.Errorf("K=%d over-dispersed: %.4f, want well above %.4f", k, got, want)
			}
		}
	}
	if _, err := RangeCoverage([][]float64{{1}}, []float64{1}); err == nil {
		t.Error("one sample accepted")
	}
	if _, err := RangeCoverage([][]float64{{1, 2}, {1}}, []float64{1, 2}); err == nil {
		t.Error("ragged samples accepted")
	}
	got, _ := RangeCoverage([][]float64{{0, math.NaN(), 0}, {2, 1, 0.5}}, []float64{1, 1, 3})
	if got != 0.5 { // pixel 1 skipped (NaN sample); pixel 0 inside, pixel 2 outside
		t.Errorf("NaN handling: %g, want 0.5", got)
	}
}
