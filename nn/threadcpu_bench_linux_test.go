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
		sp, ep, D := make([]float32, 16*T), make([]float32, 16*T), make([]float32, 16*cout*T)
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
