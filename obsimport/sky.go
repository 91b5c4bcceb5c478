package obsimport

import (
	"fmt"
	"math"
	"slices"
)

// SkyLag is the pixel lag of the differences SkyScatter forms.
const SkyLag = 4

// SkyScatter returns f, the ratio of the measured pixel scatter to the noise
// map, from the differences z = (y_i − y_j)/sqrt(σ_i² + σ_j²) of pixel pairs
// SkyLag apart along rows, both used (use[i]); f = 1.4826·MAD(z) (see the
// package documentation). It also returns the number of pairs, and fails
// with fewer than 200.
func SkyScatter(img, sigma []float64, use []bool, nx, ny int) (float64, int, error) {
	var z []float64
	for r := 0; r < ny; r++ {
		for c := 0; c+SkyLag < nx; c++ {
			i, j := r*nx+c, r*nx+c+SkyLag
			if !use[i] || !use[j] {
				continue
			}
			z = append(z, (img[i]-img[j])/math.Sqrt(sigma[i]*sigma[i]+sigma[j]*sigma[j]))
		}
	}
	if len(z) < 200 {
		return 0, len(z), fmt.Errorf("sky scatter: only %d pixel pairs on empty sky (need ≥ 200); give a larger image or --sky-scatter none", len(z))
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
