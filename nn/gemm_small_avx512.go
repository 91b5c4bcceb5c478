package nn

import "sync"

// panels32 holds the K×32 panels of B that sgemmAVX512 packs, one per
// concurrent caller.
var panels32 sync.Pool // *[smallMaxK * 32]float32

// sgemmAVX512 is smallGemm's AVX-512 path: C = op(A)·B (acc = 0) or C +=
// op(A)·B (acc = 1) with A(i, p) = a[i·rs + p·ps], for arguments Sgemm has
// already checked (m a multiple of 4, n of 8, 1 ≤ k ≤ smallMaxK). It
// follows the AVX2 path's choice of packing with panels of 32 columns
// instead of 16; each element's sum is the same, term by term, packed or
// not and on either path.
func (s *smallGemm) sgemmAVX512(a []float32, rs, ps int, b []float32, ldb int, c []float32, ldc int, m, n, k, acc int) {
	if m < packMinM || n < 32 || s.noPack || !(ldb%1024 == 0 || k*n > packMinKN) {
		for i := 0; i < m; i += 4 {
			sgemm4RowsAVX512(&a[i*rs], rs, ps, &b[0], ldb, &c[i*ldc], ldc, n, k, acc)
		}
		return
	}
	pp, _ := panels32.Get().(*[smallMaxK * 32]float32)
	if pp == nil {
		pp = new([smallMaxK * 32]float32)
	}
	defer panels32.Put(pp)
	j := 0
	for ; j+32 <= n; j += 32 {
		pack32AVX512(&b[j], ldb, &pp[0], k)
		for i := 0; i < m; i += 4 {
			sgemm4RowsAVX512(&a[i*rs], rs, ps, &pp[0], 32, &c[i*ldc+j], ldc, 32, k, acc)
		}
	}
	if j < n { // the last 8, 16 or 24 columns
		for i := 0; i < m; i += 4 {
			sgemm4RowsAVX512(&a[i*rs], rs, ps, &b[j], ldb, &c[i*ldc+j], ldc, n-j, k, acc)
		}
	}
}

// smallGemmName is the Name of a smallGemm wrapping a back-end called base:
// it names the kernel path in use.
func smallGemmName(base string) string {
	switch kernelLevel.Load() {
	case levelAVX512:
		return base + " + AVX-512 small-product kernel"
	case levelAVX2:
		return base + " + AVX2 small-product kernel"
	}
	return base + " (pure-Go kernels)"
}
