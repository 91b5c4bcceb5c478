package lens

import (
	"math"
	"testing"
)

func TestNoise(t *testing.T) {
	const n, sigma = 200000, 0.7
	a, b, c := make([]float64, n), make([]float64, n), make([]float64, n)
	for _, v := range [][]float64{a, b, c} {
		for i := range v {
			v[i] = 3
		}
	}
	if err := AddNoise(a, sigma, 42); err != nil {
		t.Fatal(err)
	}
	AddNoise(b, sigma, 42)
	AddNoise(c, sigma, 43)
	same := 0
	var mean, m2 float64
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different noise")
		}
		if a[i] == c[i] {
			same++
		}
		mean += a[i] - 3
	}
	if same > 10 {
		t.Fatal("different seeds give the same noise")
	}
	mean /= n
	for i := range a {
		d := a[i] - 3 - mean
		m2 += d * d
	}
	std := math.Sqrt(m2 / (n - 1))
	if math.Abs(std-sigma) > 4*sigma/math.Sqrt(2*n) || math.Abs(mean) > 4*sigma/math.Sqrt(n) {
		t.Fatalf("std %g mean %g, want %g, 0", std, mean, sigma)
	}
	// Noise map: per-pixel σ scales the same normal draws.
	sm := make([]float64, n)
	d := make([]float64, n)
	for i := range sm {
		sm[i] = float64(i%3) * sigma
		d[i] = 3
	}
	if err := AddNoiseMap(d, sm, 42); err != nil {
		t.Fatal(err)
	}
	for i := range d {
		if want := 3 + float64(i%3)*(a[i]-3); math.Abs(d[i]-want) > 1e-12 {
			t.Fatalf("map pixel %d: %g want %g", i, d[i], want)
		}
	}
	if AddNoise(a, -1, 1) == nil || AddNoise(a, math.Inf(1), 1) == nil || AddNoiseMap(a, sm[:3], 1) == nil {
		t.Fatal("bad sigma accepted")
	}
}
