package nn

import (
	"fmt"
	"testing"

	"github.com/lenscore/lenscore/internal/threadcpu"
)

// BenchmarkGradTransformsCPU times, in thread CPU time, the Winograd weight
// gradient's dY transform of one band (adyaAVX against the Go passes) and
// the bias-gradient row sums of a 32-channel band of 1024 pixels.
func BenchmarkGradTransformsCPU(b *testing.B) {
	e := testEngine(1)
	defer e.Close()
	rng := NewRand(23)
	for _, tc := range [][3]int{{64, 32, 32}, {32, 64, 64}, {16, 128, 128}} {
		side, cin, cout := tc[0], tc[1], tc[2]
		c := NewConv2D(e, "c", cin, cout, side, side, 3, 1, 1)
		dy := randVec(rng, cout*side*side, 1)
		r1 := c.tileRows
		T := r1 / 2 * (side / 2)
		sp, ep, D := make([]float32, 16*T), make([]float32, 16*T), make([]float32, 16*winoStride(cout, T))
		for _, kernel := range []bool{true, false} {
			b.Run(fmt.Sprintf("dY_%d²_%d_kernel=%v", side, cout, kernel), func(b *testing.B) {
				if kernel && !haveSIMD() {
					b.Skip("no AVX2+FMA")
				}
				threadcpu.Bench(b, func() {
					if kernel {
						c.winoGradDY(dy, D, sp, ep, 0, r1, T)
					} else {
						c.winoGradDYGo(dy, D, sp, ep, 0, r1, T)
					}
				})
			})
		}
	}
	m := randVec(rng, 32*4096, 1)
	dst := make([]float32, 32)
	b.Run("rowsums_32x1024", func(b *testing.B) { threadcpu.Bench(b, func() { addRowSums(dst, m, 4096, 0, 1024, 1) }) })
}

// BenchmarkLayersCPU times, in thread CPU time on one worker, the
// inference forward of the network's layer shapes at batch 2 (an inference
// chunk of score.Net on two workers): the Winograd convolutions at each
// resolution, GroupNorm+SiLU and attention. GFLOP/s count direct
// convolution FLOPs, as score.Net.Flops does.
func BenchmarkLayersCPU(b *testing.B) {
	g := benchGemm(b)
	const n = 2
	for _, tc := range []struct{ cin, cout, hw int }{{32, 32, 64}, {64, 64, 32}, {64, 64, 16}, {64, 64, 8}} {
		b.Run(fmt.Sprintf("conv_%d²_%d->%d", tc.hw, tc.cin, tc.cout), func(b *testing.B) {
			e := NewEngine(g, 1)
			defer e.Close()
			e.SetInference(true)
			c := NewConv2D(e, "c", tc.cin, tc.cout, tc.hw, tc.hw, 3, 1, 1)
			c.Init(1, NewRand(1))
			x := randVec(NewRand(2), n*tc.cin*tc.hw*tc.hw, 1)
			c.Forward(x, n)
			threadcpu.Bench(b, func() { c.Forward(x, n) })
			b.ReportMetric(float64(c.Flops())*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("gnsilu_%d²_%d", tc.hw, tc.cin), func(b *testing.B) {
			e := NewEngine(g, 1)
			defer e.Close()
			e.SetInference(true)
			gn := NewGroupNorm(e, "g", tc.cin, tc.hw*tc.hw, Groups(tc.cin), true)
			x := randVec(NewRand(2), n*tc.cin*tc.hw*tc.hw, 1)
			threadcpu.Bench(b, func() { gn.Forward(x, n) })
		})
		if tc.hw <= 16 {
			b.Run(fmt.Sprintf("attn_%d²_%d", tc.hw, tc.cin), func(b *testing.B) {
				e := NewEngine(g, 1)
				defer e.Close()
				e.SetInference(true)
				a := NewAttnBlock(e, "a", tc.cin, tc.hw, tc.hw)
				a.Init(1, NewRand(1))
				x := randVec(NewRand(2), n*tc.cin*tc.hw*tc.hw, 1)
				threadcpu.Bench(b, func() { a.Forward(x, n) })
				b.ReportMetric(float64(a.Flops())*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkSpinWaitCPU times the inference forward of two 64-channel
// ResBlocks at 32×32, at batch 1 and 16, on one worker and on two workers
// with several spin lengths of the engine's waits (spinIters): wall time
// per call and the process CPU time (user + sys over all threads) per
// call, which on two workers includes what the two parties burn polling
// for each other. Run it with -count to interleave the settings.
func BenchmarkSpinWaitCPU(b *testing.B) {
	g := benchGemm(b)
	const c, hw, tdim = 64, 32, 128
	old := spinIters
	defer func() { spinIters = old }()
	for _, n := range []int{1, 16} {
		for _, tc := range []struct{ workers, spin int }{{1, old}, {2, 1 << 14}, {2, 1 << 12}, {2, 1 << 10}} {
			b.Run(fmt.Sprintf("b%d/workers=%d/spin=%d", n, tc.workers, tc.spin), func(b *testing.B) {
				e := NewEngine(g, tc.workers)
				defer e.Close()
				e.SetInference(true)
				rng := NewRand(5)
				r0 := NewResBlock(e, "r0", c, c, hw, hw, tdim)
				r1 := NewResBlock(e, "r1", c, c, hw, hw, tdim)
				r0.Init(1, rng)
				r1.Init(1, rng)
				x := randVec(rng, n*c*hw*hw, 1)
				t := randVec(rng, n*tdim, 1)
				spinIters = tc.spin
				defer func() { spinIters = old }()
				threadcpu.BenchProc(b, func() { r1.Forward(r0.Forward(x, t, n), t, n) })
			})
		}
	}
}
