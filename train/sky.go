package train

import "github.com/lenscore/lenscore/diag"

// Model metadata recording how the sky of the training images was treated
// (LoadOptions.KeepSky); experiments prepare their validation galaxies the
// same way. A model without the entry was trained on clipped skies.
const (
	MetaSky      = "sky"
	SkyKeptValue = "kept" // MetaSky's value when the negative sky noise was kept
)

// SkyKept reports whether a model's metadata says its training images kept
// the negative half of the sky noise.
func SkyKept(meta map[string]string) bool { return meta[MetaSky] == SkyKeptValue }

// madScale turns a median absolute deviation into the standard deviation of
// a Gaussian: 1/Φ⁻¹(3/4).
const madScale = 1.482602218505602

// SkyStats measures the sky of a prepared n×n image (peak 1): the fraction
// of all its pixels that are negative, and the sky noise σ_sky,
// diag.SkyNoise of the border of the given width (0: max(1, n/16)) — the
// same border whose median Prepare subtracts. For Gaussian sky noise of
// standard deviation s in the border, σ_sky → s; for a sky clipped at zero
// the estimate is biased low (at most half the border is non-zero).
func SkyStats(pix []float32, n, border int) (negFrac, sigmaSky float64) {
	neg := 0
	b := make([]float64, len(pix))
	for i, v := range pix {
		if v < 0 {
			neg++
		}
		b[i] = float64(v)
	}
	return float64(neg) / float64(len(pix)), diag.SkyNoise(b, n, border)
}
