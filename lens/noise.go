package lens

import (
	"fmt"
	"math/rand/v2"
)

// NewRand returns the deterministic generator used for noise:
// rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)).
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// AddNoise adds independent N(0, σ²) draws to every element of img using a
// generator seeded by seed (see NewRand); the same seed gives the same noise.
func AddNoise(img []float64, sigma float64, seed uint64) error {
	if !(sigma >= 0) || sigma > 1e308 {
		return fmt.Errorf("lens: noise: sigma must be finite and >= 0, got %g", sigma)
	}
	rng := NewRand(seed)
	for i := range img {
		img[i] += sigma * rng.NormFloat64()
	}
	return nil
}

// AddNoiseMap adds N(0, sigma[i]²) to img[i] (per-pixel noise map).
func AddNoiseMap(img, sigma []float64, seed uint64) error {
	if len(sigma) != len(img) {
		return fmt.Errorf("lens: noise map: %d sigmas for %d pixels", len(sigma), len(img))
	}
	for i, s := range sigma {
		if !(s >= 0) || s > 1e308 {
			return fmt.Errorf("lens: noise map: sigma[%d] must be finite and >= 0, got %g", i, s)
		}
	}
	rng := NewRand(seed)
	for i := range img {
		img[i] += sigma[i] * rng.NormFloat64()
	}
	return nil
}
