package nn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lenscore/lenscore/internal/threadcpu"
)

// TestKernelPathsGemmNT runs C (+)= A·Bᵀ through smallGemm on every kernel
// path this CPU has — on the vector paths by the automatic route and by the
// transposed route forced, on purego by the back-end — and compares each
// with a float64 product within float32 rounding (|error| ≤
// 2⁻²²·(k+1)·Σ_p |A(i,p) B(j,p)| plus C's rounding); padding must stay
// untouched. The transposed route runs the small-product kernel's in-order
// sums over stretches of K, so the vector paths must agree bit for bit
// with each other and with the same stretches of A·(Bᵀ) on the kernel. The shapes are the training
// step's (Winograd weight gradients with K = 8…64, im2col dW, attention's
// 192×64×256) plus leading dimensions larger than the rows and shapes that
// must fall back (K not a multiple of 8, M not a multiple of 4, N not a
// multiple of 8, alpha ≠ 1, beta ∉ {0, 1}).
func TestKernelPathsGemmNT(t *testing.T) {
	rng := rand.New(rand.NewPCG(77, 78))
	type shape struct {
		m, n, k     int
		alpha, beta float32
		pad         int
	}
	shapes := []shape{
		{4, 8, 8, 1, 0, 0},
		{4, 8, 8, 1, 1, 3},
		{4, 16, 16, 1, 1, 0},
		{32, 32, 64, 1, 1, 0},
		{64, 64, 32, 1, 1, 5},
		{64, 128, 8, 1, 0, 0},
		{32, 96, 64, 1, 1, 0},
		{192, 64, 256, 1, 1, 0},
		{64, 576, 128, 1, 1, 0}, // Bᵀ above ntTransMax
		{8, 24, 40, 1, 0, 1},
		{4, 8, 12, 1, 1, 0},   // K not a multiple of 8
		{6, 8, 16, 1, 1, 0},   // M not a multiple of 4
		{4, 12, 16, 1, 1, 0},  // N not a multiple of 8
		{4, 8, 16, 0.5, 1, 0}, // alpha
		{4, 8, 16, 1, 0.5, 0}, // beta
	}
	paths := KernelPaths()
	for _, s := range shapes {
		lda, ldb, ldc := s.k+s.pad, s.k+2*s.pad, s.n+s.pad
		a := randSlice(rng, s.m*lda)
		b := randSlice(rng, s.n*ldb)
		c0 := randSlice(rng, s.m*ldc)
		check := func(name string, got []float32) {
			t.Helper()
			checkGemmRef(t, name, got, c0, s.m, s.n, s.k, ldc, float64(s.beta), func(i, j, p int) float64 {
				return float64(s.alpha) * float64(a[i*lda+p]) * float64(b[j*ldb+p])
			})
		}
		tag := fmt.Sprintf("%dx%dx%d alpha=%g beta=%g pad=%d", s.m, s.n, s.k, s.alpha, s.beta, s.pad)
		// The plain product A·(Bᵀ) on the kernel, Bᵀ transposed in Go: what
		// the transposed route must equal bit for bit.
		bt := make([]float32, s.k*s.n)
		transposeGo(bt, s.n, b, ldb, s.n, s.k)
		var simd []float32
		for _, path := range paths {
			withKernelPath(t, path, func(t *testing.T) {
				for _, mode := range []int{ntAuto, ntTrans} {
					name := fmt.Sprintf("%s mode %d %s", path, mode, tag)
					got := append([]float32(nil), c0...)
					(&smallGemm{base: NaiveGemm{}, ntMode: mode}).Sgemm(false, true, s.m, s.n, s.k, s.alpha, a, lda, b, ldb, s.beta, got, ldc)
					check(name, got)
					if path == "purego" {
						continue
					}
					kc := min(s.k, ntChunk, ntTransMax/(s.n+ntPad)/8*8)
					routed := s.alpha == 1 && (s.beta == 0 || s.beta == 1) && s.m%4 == 0 && s.n%8 == 0 && s.k%8 == 0 &&
						kc > 0 && (mode == ntTrans || s.k <= ntMaxK)
					if routed {
						// Stretches of kc terms of K, each the kernel's A·(Bᵀ), added
						// into C one after the other.
						want := append([]float32(nil), c0...)
						beta := s.beta
						for p0 := 0; p0 < s.k; p0 += kc {
							q := min(kc, s.k-p0)
							(&smallGemm{base: NaiveGemm{}}).Sgemm(false, false, s.m, s.n, q, 1, a[p0:], lda, bt[p0*s.n:], s.n, beta, want, ldc)
							beta = 1
						}
						for i := range got {
							if got[i] != want[i] {
								t.Fatalf("%s: element %d = %g, the kernel's A·(Bᵀ) %g", name, i, got[i], want[i])
							}
						}
					}
					if mode != ntTrans {
						continue
					}
					if simd == nil {
						simd = got
						continue
					}
					for i := range got {
						if got[i] != simd[i] {
							t.Fatalf("%s: element %d = %g differs from the other vector path's %g", name, i, got[i], simd[i])
						}
					}
				}
			})
		}
	}
}

// TestKernelPathsTranspose8 compares transpose8Vec (through transposeInto:
// transpose8AVX, and on the avx512 path transpose8AVX512 for pairs of
// blocks, transpose8AVX for an odd last one) with the definition on every
// vector path, on strips of one and several blocks (odd and even counts),
// with row strides of both B and Bᵀ larger than the rows; the result must
// be the same floats, and nothing outside Bᵀ may be written.
func TestKernelPathsTranspose8(t *testing.T) {
	for _, path := range KernelPaths() {
		if path == "purego" {
			continue // transposeInto runs transposeGo, the reference
		}
		withKernelPath(t, path, func(t *testing.T) { testTranspose8(t) })
	}
}

func testTranspose8(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 55))
	for _, s := range [][3]int{{8, 8, 0}, {8, 64, 3}, {64, 8, 0}, {96, 32, 7}, {128, 512, 1}, {16, 24, 5}, {8, 40, 2}} {
		n, k, pad := s[0], s[1], s[2]
		ldb := k + pad
		b := randSlice(rng, n*ldb)
		ldt := n + pad
		got := make([]float32, k*ldt+8)
		want := make([]float32, k*ldt+8)
		for i := range got {
			got[i], want[i] = 42, 42
		}
		transposeInto(got, ldt, b, ldb, n, k)
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				want[p*ldt+j] = b[j*ldb+p]
			}
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("n=%d k=%d ldb=%d ldt=%d: element %d (row %d, col %d) = %g, want %g", n, k, ldb, ldt, i, i/ldt, i%ldt, got[i], want[i])
			}
		}
	}
}

// TestGemmNTRouting checks that the shapes the kernel takes reach it: with
// a back-end that records its calls, smallGemm must not call the back-end
// for an NT product of a routable shape, and must for the others.
func TestGemmNTRouting(t *testing.T) {
	if !haveSIMD() {
		t.Skip("no AVX2+FMA: the kernel is not used")
	}
	rec := &countGemm{}
	sg := &smallGemm{base: rec}
	a, b, c := make([]float32, 64*64), make([]float32, 64*64), make([]float32, 64*64)
	sg.Sgemm(false, true, 64, 64, 32, 1, a, 64, b, 64, 1, c, 64)
	if rec.n != 0 {
		t.Fatalf("64×64×32 NT product went to the back-end")
	}
	sg.Sgemm(false, true, 64, 64, 12, 1, a, 64, b, 64, 1, c, 64)         // K not a multiple of 8
	sg.Sgemm(true, true, 64, 64, 32, 1, a, 64, b, 64, 1, c, 64)          // Aᵀ
	sg.Sgemm(false, true, 32, 32, ntMaxK+8, 1, a, 128, b, 128, 1, c, 32) // K above ntMaxK
	if rec.n != 3 {
		t.Fatalf("back-end called %d times for three non-routable products, want 3", rec.n)
	}
	(&smallGemm{base: rec, ntMode: ntBase}).Sgemm(false, true, 64, 64, 32, 1, a, 64, b, 64, 1, c, 64)
	if rec.n != 4 {
		t.Fatalf("noNT: back-end not called")
	}
}

type countGemm struct{ n int }

func (g *countGemm) Name() string { return "count" }

func (g *countGemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.n++
	NaiveGemm{}.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// BenchmarkGemmNT compares the NT kernel with the back-end (OpenBLAS when
// installed) on the training step's C += A·Bᵀ shapes, M×N×K, the most
// frequent first (Winograd weight gradients, then im2col dW and attention).
// 64 products per call, thread CPU time.
func BenchmarkGemmNT(b *testing.B) {
	if !haveSIMD() {
		b.Skip("no AVX2+FMA")
	}
	base := benchBackends(b)[0]
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range [][3]int{{64, 64, 32}, {32, 32, 64}, {64, 128, 32}, {64, 64, 64}, {32, 64, 64}, {32, 96, 64},
		{64, 64, 8}, {64, 128, 128}, {64, 256, 256}, {192, 64, 256}, {32, 64, 1024}, {64, 128, 512}, {64, 576, 128}, {32, 288, 512}} {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := randSlice(rng, m*k), randSlice(rng, n*k), randSlice(rng, m*n)
		for _, g := range []*smallGemm{{base: base, ntMode: ntBase}, {base: base, ntMode: ntTrans}} {
			name := [...]string{"auto", "base", "trans"}[g.ntMode]
			for _, chunk := range []int{32, 64, 128, 256} {
				if g.ntMode == ntBase && chunk != 64 {
					continue
				}
				b.Run(fmt.Sprintf("%dx%dx%d/%s%d", m, n, k, name, chunk), func(b *testing.B) {
					ntChunk = chunk
					defer func() { ntChunk = 64 }()
					threadcpu.Bench(b, func() {
						for r := 0; r < 64; r++ {
							g.Sgemm(false, true, m, n, k, 1, a, k, bb, k, 1, c, n)
						}
					})
					b.ReportMetric(64*float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
