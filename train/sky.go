package train

import (
	"fmt"

	"github.com/lenscore/lenscore/diag"
)

// Model metadata recording how the sky of the training images was treated
// (LoadOptions.KeepSky, DenoiseSky); experiments prepare their validation galaxies the
// same way. A model without the entry was trained on clipped skies.
const (
	MetaSky          = "sky"
	SkyKeptValue     = "kept"     // MetaSky's value when the negative sky noise was kept
	SkyDenoisedValue = "denoised" // MetaSky's value when the sky noise was removed (Denoise)
)

// Sky preparations of the galaxy images, as named by flags and SkyOf.
const (
	SkyModeClipped  = "clipped"  // sky median subtracted, clipped at zero (the default)
	SkyModeKept     = "kept"     // sky median subtracted, its noise kept
	SkyModeDenoised = "denoised" // noise removed by Denoise, then the sky median subtracted
)

// SkyOf returns how a model's training images were prepared (SkyModeClipped,
// SkyModeKept or SkyModeDenoised) from its metadata.
func SkyOf(meta map[string]string) string {
	switch meta[MetaSky] {
	case SkyKeptValue:
		return SkyModeKept
	case SkyDenoisedValue:
		return SkyModeDenoised
	}
	return SkyModeClipped
}

// SkyOptions returns the LoadOptions fields for a sky preparation name, or
// an error naming the accepted ones.
func SkyOptions(sky string) (keep, denoise bool, err error) {
	switch sky {
	case SkyModeClipped, "":
		return false, false, nil
	case SkyModeKept:
		return true, false, nil
	case SkyModeDenoised:
		return false, true, nil
	}
	return false, false, fmt.Errorf("sky preparation must be %s, %s or %s, got %q", SkyModeClipped, SkyModeKept, SkyModeDenoised, sky)
}

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
