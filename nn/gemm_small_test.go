package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSmallGemmMatchesNaive compares the small-product kernel with the
// triple loop on shapes that exercise column blocks of 16 and the final
// block of 8, strides larger than the matrices, accumulation (beta = 1) and
// every fall-back condition (transposes, alpha, M or N not multiples of 4
// and 8, K above the limit).
func TestSmallGemmMatchesNaive(t *testing.T) {
	if !haveSIMD() {
		t.Skip("no AVX2+FMA: the kernel is not used")
	}
	g := withSmallKernel(NaiveGemm{})
	if _, ok := g.(*smallGemm); ok {
		t.Fatal("NaiveGemm must not be wrapped")
	}
	sg := &smallGemm{base: NaiveGemm{}}
	rng := rand.New(rand.NewPCG(3, 4))
	type shape struct {
		tA, tB      bool
		m, n, k     int
		alpha, beta float32
		pad         int
	}
	shapes := []shape{
		{false, false, 4, 8, 1, 1, 0, 0},
		{false, false, 4, 16, 3, 1, 0, 0},
		{false, false, 8, 24, 5, 1, 0, 0},
		{false, false, 32, 32, 32, 1, 0, 0},
		{false, false, 64, 8, 64, 1, 0, 3},
		{false, false, 64, 40, 64, 1, 1, 5},
		{false, false, 12, 520, 9, 1, 1, 0},
		{false, false, 32, 512, 288, 1, 0, 7},
		{false, false, 8, 40, 5, 1, 1, 984},           // ldb = 1024: packed panels
		{false, false, 12, 264, 300, 1, 0, 0},         // K·N > packMinKN: packed, last 8 columns not
		{true, false, 16, 48, 70, 1, 1, 976},          // Aᵀ, ldb = 1024: packed
		{false, false, 4, 16, smallMaxK + 1, 1, 0, 0}, // K too large
		{false, false, 6, 16, 8, 1, 0, 0},             // M not a multiple of 4
		{false, false, 4, 12, 8, 1, 0, 0},             // N not a multiple of 8
		{true, false, 8, 16, 8, 1, 0, 0},
		{true, false, 32, 256, 64, 1, 0, 224}, // attention qᵀk block: lda = P
		{true, false, 4, 8, 1, 1, 1, 3},
		{true, false, 12, 24, 7, 1, 1, 0},
		{true, false, 6, 16, 8, 1, 0, 0}, // M not a multiple of 4
		{false, true, 8, 16, 8, 1, 0, 0},
		{false, false, 8, 16, 8, 0.5, 0, 0},
		{false, false, 8, 16, 8, 1, 0.5, 0},
	}
	for _, s := range shapes {
		t.Run(fmt.Sprintf("%v%v_%dx%dx%d_a%g_b%g_pad%d", s.tA, s.tB, s.m, s.n, s.k, s.alpha, s.beta, s.pad), func(t *testing.T) {
			lda := s.k + s.pad
			ra, ca := s.m, lda
			if s.tA {
				lda = s.m + s.pad
				ra, ca = s.k, lda
			}
			ldb := s.n + s.pad
			rb := s.k
			if s.tB {
				ldb = s.k + s.pad
				rb = s.n
			}
			ldc := s.n + s.pad
			a := randSlice(rng, (ra-1)*ca+ca)
			b := randSlice(rng, (rb-1)*ldb+ldb)
			c0 := randSlice(rng, (s.m-1)*ldc+ldc)
			got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
			sg.Sgemm(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, got, ldc)
			// Packing panels of B must not change a single bit.
			unpacked := append([]float32(nil), c0...)
			(&smallGemm{base: NaiveGemm{}, noPack: true}).Sgemm(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, unpacked, ldc)
			for i := range got {
				if got[i] != unpacked[i] {
					t.Fatalf("element %d: packed %g, unpacked %g", i, got[i], unpacked[i])
				}
			}
			NaiveGemm{}.Sgemm(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, want, ldc)
			for i := range got {
				d := got[i] - want[i]
				if d < 0 {
					d = -d
				}
				tol := 1e-5 * float32(s.k+1) * max(1, abs32(want[i]))
				if i%ldc >= s.n {
					tol = 0 // padding columns must be untouched
				}
				if d > tol {
					t.Fatalf("element %d (row %d, col %d): got %g, want %g", i, i/ldc, i%ldc, got[i], want[i])
				}
			}
		})
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkSmallGemm compares the small-product kernel with the back-end
// it wraps on the Winograd products of the network (M = C_out, N = tiles of
// one band, K = C_in), an im2col product (K = 9·C_in) and a 1×1
// convolution reading B = x in place (ldb = H·W = 4096); "nopack" runs the
// kernel without packing panels of B.
func BenchmarkSmallGemm(b *testing.B) {
	if !haveSIMD() {
		b.Skip("no AVX2+FMA")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, base := range benchBackends(b)[:1] {
		for _, g := range []Gemm{base, &smallGemm{base: base}, &smallGemm{base: base, noPack: true}} {
			for _, s := range [][4]int{{32, 32, 32, 32}, {64, 32, 64, 32}, {64, 32, 128, 32}, {192, 32, 64, 32}, {32, 512, 288, 512}, {32, 512, 96, 4096}} {
				m, n, k, ldb := s[0], s[1], s[2], s[3]
				a, bb, c := randSlice(rng, m*k), randSlice(rng, k*ldb), randSlice(rng, m*n)
				name := g.Name()
				if sg, ok := g.(*smallGemm); ok && sg.noPack {
					name += " nopack"
				}
				b.Run(fmt.Sprintf("%s/%dx%dx%d_ldb%d", name, m, n, k, ldb), func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						g.Sgemm(false, false, m, n, k, 1, a, k, bb, ldb, 0, c, n)
					}
					b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
