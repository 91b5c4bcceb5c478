package diag

import (
	"fmt"
	"math"
)

// Accumulator accumulates the per-pixel mean and variance of a stream of
// images with Welford's update
//
//	δ = x − μ_{k−1},  μ_k = μ_{k−1} + δ/k,  M_k = M_{k−1} + δ (x − μ_k),
//
// which does not lose precision when the mean is large compared with the
// spread. Add does not allocate.
type Accumulator struct {
	n    int
	mean []float64
	m2   []float64
}

// NewAccumulator returns an Accumulator for images of dim pixels.
func NewAccumulator(dim int) *Accumulator {
	return &Accumulator{mean: make([]float64, dim), m2: make([]float64, dim)}
}

// Add adds one image.
func (a *Accumulator) Add(x []float64) error {
	if len(x) != len(a.mean) {
		return fmt.Errorf("diag: Accumulator.Add: image has %d pixels, want %d", len(x), len(a.mean))
	}
	a.n++
	inv := 1 / float64(a.n)
	for i, v := range x {
		d := v - a.mean[i]
		a.mean[i] += d * inv
		a.m2[i] += d * (v - a.mean[i])
	}
	return nil
}

// Count returns the number of images added.
func (a *Accumulator) Count() int { return a.n }

// Mean writes the per-pixel mean into dst (allocated when nil) and returns it.
func (a *Accumulator) Mean(dst []float64) []float64 {
	if dst == nil {
		dst = make([]float64, len(a.mean))
	}
	copy(dst, a.mean)
	return dst
}

// Std writes the per-pixel sample standard deviation
// s = √(Σ_k (x_k − μ)² / (K−1)) into dst (allocated when nil) and returns
// it. With fewer than two images it is zero.
func (a *Accumulator) Std(dst []float64) []float64 {
	if dst == nil {
		dst = make([]float64, len(a.mean))
	}
	if a.n < 2 {
		clear(dst)
		return dst
	}
	inv := 1 / float64(a.n-1)
	for i, m := range a.m2 {
		dst[i] = math.Sqrt(m * inv)
	}
	return dst
}

// MeanStd returns the per-pixel mean and sample standard deviation (K−1
// normalisation) of K images of equal length.
func MeanStd(samples [][]float64) (mean, std []float64, err error) {
	if len(samples) == 0 {
		return nil, nil, fmt.Errorf("diag: MeanStd: no samples")
	}
	acc := NewAccumulator(len(samples[0]))
	for k, s := range samples {
		if err := acc.Add(s); err != nil {
			return nil, nil, fmt.Errorf("diag: MeanStd: sample %d: %w", k, err)
		}
	}
	return acc.Mean(nil), acc.Std(nil), nil
}

// Pearson returns the Pearson correlation coefficient of two images,
//
//	ρ = Σ (a−ā)(b−b̄) / √(Σ (a−ā)² Σ (b−b̄)²),
//
// computed in two passes. Pixels where either value is NaN are skipped.
// It is NaN when either image is constant.
func Pearson(a, b []float64) (float64, error) {
	if len(a) != len(b) {
		return math.NaN(), fmt.Errorf("diag: Pearson: lengths %d and %d differ", len(a), len(b))
	}
	var sa, sb float64
	n := 0
	for i := range a {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) {
			continue
		}
		sa += a[i]
		sb += b[i]
		n++
	}
	if n == 0 {
		return math.NaN(), fmt.Errorf("diag: Pearson: no finite pixel pairs")
	}
	ma, mb := sa/float64(n), sb/float64(n)
	var sab, saa, sbb float64
	for i := range a {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) {
			continue
		}
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	return sab / math.Sqrt(saa*sbb), nil
}

// RMSE returns √(Σ (a−b)² / n) over the pixels where neither value is NaN.
func RMSE(a, b []float64) (float64, error) {
	if len(a) != len(b) {
		return math.NaN(), fmt.Errorf("diag: RMSE: lengths %d and %d differ", len(a), len(b))
	}
	var s float64
	n := 0
	for i := range a {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) {
			continue
		}
		d := a[i] - b[i]
		s += d * d
		n++
	}
	if n == 0 {
		return math.NaN(), fmt.Errorf("diag: RMSE: no finite pixel pairs")
	}
	return math.Sqrt(s / float64(n)), nil
}

// FiniteMeanStd returns the mean, the population standard deviation and the
// count of the non-NaN values of v (masked pixels of a residual map are NaN
// and so are excluded).
func FiniteMeanStd(v []float64) (mean, std float64, n int) {
	var s float64
	for _, x := range v {
		if !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	mean = s / float64(n)
	var ss float64
	for _, x := range v {
		if !math.IsNaN(x) {
			ss += (x - mean) * (x - mean)
		}
	}
	return mean, math.Sqrt(ss / float64(n)), n
}

// RangeCoverage returns the fraction of the coordinates i at which the truth
// lies inside the range of the K samples, min_k s_k[i] ≤ truth[i] ≤
// max_k s_k[i]. If the truth is exchangeable with the samples (a calibrated
// posterior, marginally per pixel), its rank among the K+1 values is uniform
// and the expected fraction is (K−1)/(K+1) (RangeCoverageExpected) whatever
// the posterior's shape; an over-confident posterior gives less, an
// over-dispersed one more. Coordinates where the truth or a sample is NaN
// are skipped.
func RangeCoverage(samples [][]float64, truth []float64) (float64, error) {
	if len(samples) < 2 {
		return math.NaN(), fmt.Errorf("diag: RangeCoverage: need at least 2 samples, got %d", len(samples))
	}
	for k, s := range samples {
		if len(s) != len(truth) {
			return math.NaN(), fmt.Errorf("diag: RangeCoverage: sample %d has length %d, truth %d", k, len(s), len(truth))
		}
	}
	in, n := 0, 0
pixels:
	for i, t := range truth {
		if math.IsNaN(t) {
			continue
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, s := range samples {
			v := s[i]
			if math.IsNaN(v) {
				continue pixels
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		n++
		if lo <= t && t <= hi {
			in++
		}
	}
	if n == 0 {
		return math.NaN(), fmt.Errorf("diag: RangeCoverage: no finite coordinates")
	}
	return float64(in) / float64(n), nil
}

// RangeCoverageExpected is (K−1)/(K+1), RangeCoverage's value for a
// calibrated posterior with K samples.
func RangeCoverageExpected(k int) float64 { return float64(k-1) / float64(k+1) }
