//go:build !race

// The race detector makes sync.Pool drop items at random, so allocation
// counts are only meaningful without it.

package nn

import "testing"

// TestGemmNoAllocs checks that steady-state Sgemm calls do not allocate:
// GoGemm reuses pooled packing buffers, OpenBLAS passes pointers straight
// to C.
func TestGemmNoAllocs(t *testing.T) {
	backends := goKernels()
	if o, err := LoadOpenBLAS(); err == nil {
		backends = append(backends, o)
	}
	const m, n, k = 8, 300, 20
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for _, g := range backends {
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			lda, ldb := k, n
			if tr[0] {
				lda = m
			}
			if tr[1] {
				ldb = k
			}
			g.Sgemm(tr[0], tr[1], m, n, k, 1, a, lda, b, ldb, 0, c, n) // warm the pool
			allocs := testing.AllocsPerRun(20, func() {
				g.Sgemm(tr[0], tr[1], m, n, k, 0.5, a, lda, b, ldb, 1, c, n)
			})
			if allocs != 0 {
				t.Errorf("%s transA=%v transB=%v: %v allocations per call, want 0", g.Name(), tr[0], tr[1], allocs)
			}
		}
	}
}

// TestGemmNTNoAllocs: the transposed NT route reuses its pooled Bᵀ buffer,
// so steady-state C += A·Bᵀ calls through smallGemm do not allocate.
func TestGemmNTNoAllocs(t *testing.T) {
	if !haveSIMD() {
		t.Skip("no AVX2+FMA: the route is not used")
	}
	g := &smallGemm{base: NaiveGemm{}}
	const m, n, k = 64, 64, 32
	a, b, c := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
	g.Sgemm(false, true, m, n, k, 1, a, k, b, k, 1, c, n) // warm the pool
	if allocs := testing.AllocsPerRun(20, func() { g.Sgemm(false, true, m, n, k, 1, a, k, b, k, 1, c, n) }); allocs != 0 {
		t.Errorf("%v allocations per call, want 0", allocs)
	}
	rec := &countGemm{}
	(&smallGemm{base: rec}).Sgemm(false, true, m, n, k, 1, a, k, b, k, 1, c, n)
	if rec.n != 0 {
		t.Fatal("the product did not take the transposed route")
	}
}
