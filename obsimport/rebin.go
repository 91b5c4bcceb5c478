package obsimport

import "math"

// Rebin averages k×k blocks of an nx×ny image (file order) whose first
// block starts at pixel (0, 0); nx and ny must be multiples of k. The noise
// is propagated for independent pixels, σ = sqrt(Σσ_i²)/k², and an output
// pixel is kept only when all its inputs are (keep nil: all kept). It
// returns the (nx/k)×(ny/k) image, noise and keep.
func Rebin(img, sigma []float64, keep []bool, nx, ny, k int) ([]float64, []float64, []bool) {
	mx, my := nx/k, ny/k
	oi := make([]float64, mx*my)
	os := make([]float64, mx*my)
	ok := make([]bool, mx*my)
	inv := 1 / float64(k*k)
	for r := 0; r < my; r++ {
		for c := 0; c < mx; c++ {
			var s, v float64
			all := true
			for a := 0; a < k; a++ {
				for b := 0; b < k; b++ {
					i := (r*k+a)*nx + c*k + b
					s += img[i]
					v += sigma[i] * sigma[i]
					if keep != nil && !keep[i] {
						all = false
					}
				}
			}
			o := r*mx + c
			oi[o], os[o], ok[o] = s*inv, math.Sqrt(v)*inv, all
		}
	}
	return oi, os, ok
}
