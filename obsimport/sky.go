package obsimport

import (
	"fmt"
	"math"
	"slices"
)

// SkyLag is the lag, in input pixels, of the differences SkyScatter forms:
// beyond the reach of the drizzle kernel (measured on SLACS frames, the
// scatter of differences stops growing with the lag from 2–3 pixels on).
const SkyLag = 4

// SkyLagFor is the lag in output pixels after rebinning by k:
// ⌈SkyLag/k⌉.
func SkyLagFor(k int) int { return (SkyLag + k - 1) / k }

// SkyScatter returns f, the ratio of the measured pixel scatter to the noise
// map, from the second differences
//
//	z = (2y_i − y_{i−L} − y_{i+L}) / sqrt(4σ_i² + σ_{i−L}² + σ_{i+L}²)
//
// of pixel triples lag L apart along rows, all used (use[i]), which cancel
// any light that is linear over 2L pixels; f = 1.4826·MAD(z) (see the
// package documentation). It also returns the number of triples, and fails
// with fewer than 200.
func SkyScatter(img, sigma []float64, use []bool, nx, ny, lag int) (float64, int, error) {
	if lag < 1 {
		return 0, 0, fmt.Errorf("sky scatter: lag must be ≥ 1, got %d", lag)
	}
	var z []float64
	for r := 0; r < ny; r++ {
		for c := lag; c+lag < nx; c++ {
			i, a, b := r*nx+c, r*nx+c-lag, r*nx+c+lag
			if !use[i] || !use[a] || !use[b] {
				continue
			}
			z = append(z, (2*img[i]-img[a]-img[b])/math.Sqrt(4*sigma[i]*sigma[i]+sigma[a]*sigma[a]+sigma[b]*sigma[b]))
		}
	}
	if len(z) < 200 {
		return 0, len(z), fmt.Errorf("sky scatter: only %d pixel triples on empty sky (need ≥ 200); give a larger image or --sky-scatter none", len(z))
	}
	med := median(z)
	for i := range z {
		z[i] = math.Abs(z[i] - med)
	}
	return 1.4826 * median(z), len(z), nil
}

// median of v (reordered in place).
func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
