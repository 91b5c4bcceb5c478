package nn

import (
	"math"
	"math/rand/v2"
)

// Layer is a batch layer with explicit forward and backward passes on
// float32 NCHW tensors (or N×D matrices).
//
// Forward reads n samples from x and returns the layer's output buffer,
// valid until the next Forward; x must stay unchanged until Backward.
// Backward takes dL/dout for the last Forward, accumulates dL/dθ into
// Param.Grad and returns dL/dx in a layer-owned buffer valid until the next
// Backward.
type Layer interface {
	Forward(x []float32, n int) []float32
	Backward(dout []float32) []float32
	Params() []*Param
}

// NewRand returns the deterministic generator used for weight
// initialisation (PCG seeded with seed).
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// VarianceScaling fills w with the NCSN++/DDPM default initialisation
// (variance scaling, mode fan_avg, uniform distribution):
//
//	w ~ U(−a, a),  a = √(3·scale / ((fanIn + fanOut)/2)),
//
// so that Var(w) = scale/fan_avg. As in NCSN++ a scale of 0 is replaced by
// 1e-10 (used for the last convolution of residual and attention branches,
// which therefore start as near-identity maps).
func VarianceScaling(w []float32, fanIn, fanOut int, scale float64, rng *rand.Rand) {
	if scale == 0 {
		scale = 1e-10
	}
	a := math.Sqrt(3 * scale / (float64(fanIn+fanOut) / 2))
	for i := range w {
		w[i] = float32(a * (2*rng.Float64() - 1))
	}
}
