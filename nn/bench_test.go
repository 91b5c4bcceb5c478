package nn

import (
	"fmt"
	"testing"
)

// BenchmarkConv reports GFLOP/s of the convolutions of the default score
// network (batch 8) with the default Gemm back-end.
func BenchmarkConv(b *testing.B) {
	g := benchGemm(b)
	for _, tc := range []struct{ cin, cout, hw, k, s int }{
		{32, 32, 64, 3, 1}, {96, 32, 64, 3, 1}, {32, 32, 64, 3, 2}, {64, 64, 32, 3, 1}, {64, 64, 16, 3, 1}, {64, 64, 8, 3, 1}, {96, 64, 32, 1, 1},
	} {
		name := fmt.Sprintf("%dx%d_%d->%d_k%ds%d", tc.hw, tc.hw, tc.cin, tc.cout, tc.k, tc.s)
		for _, bwd := range []bool{false, true} {
			bn := name
			if bwd {
				bn += "_fwd+bwd"
			}
			b.Run(bn, func(b *testing.B) {
				e := NewEngine(g, 0)
				defer e.Close()
				n := 8
				c := NewConv2D(e, "c", tc.cin, tc.cout, tc.hw, tc.hw, tc.k, tc.s, tc.k/2)
				c.Init(1, NewRand(1))
				x := randVec(NewRand(2), n*tc.cin*tc.hw*tc.hw, 1)
				d := randVec(NewRand(3), n*tc.cout*c.Ho*c.Wo, 1)
				c.Forward(x, n)
				c.Backward(d)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c.Forward(x, n)
					if bwd {
						c.Backward(d)
					}
				}
				f := float64(c.Flops()) * float64(n)
				if bwd {
					f *= 3
				}
				b.ReportMetric(f*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func BenchmarkAttention16(b *testing.B) {
	g := benchGemm(b)
	e := NewEngine(g, 0)
	defer e.Close()
	a := NewAttnBlock(e, "a", 64, 16, 16)
	a.Init(1, NewRand(1))
	n := 8
	x := randVec(NewRand(2), n*64*256, 1)
	a.Forward(x, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Forward(x, n)
	}
	b.ReportMetric(float64(a.Flops())*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkIm2col times the im2col of one 32-channel 64×64 image for a 3×3
// "same" convolution, band by band.
func BenchmarkIm2col(b *testing.B) {
	e := NewEngine(NaiveGemm{}, 1)
	defer e.Close()
	c := NewConv2D(e, "c", 32, 32, 64, 64, 3, 1, 1)
	x := make([]float32, 32*64*64)
	col := make([]float32, 32*9*c.tileRows*c.Wo)
	b.SetBytes(int64(4 * 9 * len(x)))
	for b.Loop() {
		for r0 := 0; r0 < c.Ho; r0 += c.tileRows {
			c.im2col(x, col, r0, min(c.Ho, r0+c.tileRows))
		}
	}
}

// benchGemm is the GEMM of the benchmarks: the default back-end, or the
// naive one (logged) where none loads.
func benchGemm(b testing.TB) Gemm {
	g, err := DefaultGemm()
	if err != nil {
		b.Logf("DefaultGemm: %v", err)
		return NaiveGemm{}
	}
	return g
}
