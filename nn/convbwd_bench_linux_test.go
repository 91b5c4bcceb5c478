package nn

import (
	"fmt"
	"testing"

	"github.com/lenscore/lenscore/internal/threadcpu"
)

// BenchmarkConvBackwardCPU times, in thread CPU time on one worker, the
// training-mode forward and backward (weight, bias and input gradients) of
// the network's Winograd convolution shapes at batch 2.
func BenchmarkConvBackwardCPU(b *testing.B) {
	g := benchGemm(b)
	const n = 2
	for _, tc := range []struct{ cin, cout, hw int }{{32, 32, 64}, {64, 64, 32}, {64, 64, 16}, {64, 64, 8}} {
		b.Run(fmt.Sprintf("conv_%d²_%d->%d", tc.hw, tc.cin, tc.cout), func(b *testing.B) {
			e := NewEngine(g, 1)
			defer e.Close()
			rng := NewRand(7)
			c := NewConv2D(e, "c", tc.cin, tc.cout, tc.hw, tc.hw, 3, 1, 1)
			c.Init(1, rng)
			x := randVec(rng, n*tc.cin*tc.hw*tc.hw, 1)
			dy := randVec(rng, n*tc.cout*tc.hw*tc.hw, 1)
			threadcpu.Bench(b, func() {
				c.Forward(x, n)
				c.Backward(dy)
			})
		})
	}
}

// BenchmarkWinoWeightsCPU times, in thread CPU time on one worker, the
// Winograd weight transform of a 64→64 layer (F(4×4) at 32², F(2×2) at
// 16²), which the training step computes twice per layer (the forward's and
// the flipped kernel's of dx), and the bias-gradient row sums of a 64-channel
// band of 32×32 pixels.
func BenchmarkWinoWeightsCPU(b *testing.B) {
	e := NewEngine(NaiveGemm{}, 1)
	defer e.Close()
	rng := NewRand(9)
	for _, hw := range []int{32, 16} {
		c := NewConv2D(e, "c", 64, 64, hw, hw, 3, 1, 1)
		c.Init(1, rng)
		b.Run(fmt.Sprintf("%d²_64->64_wino4=%v", hw, c.wino4), func(b *testing.B) {
			threadcpu.Bench(b, c.winoWeights)
		})
	}
}
