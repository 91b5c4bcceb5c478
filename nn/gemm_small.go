package nn

import "sync"

// smallGemm routes the products the layers issue most — C = op(A)·B or
// C += op(A)·B with op(A) = A or Aᵀ, B not transposed, M a multiple of 4
// and N a multiple of 8, and C (+)= A·Bᵀ (gemm_nt.go) —
// to an AVX2+FMA register-blocked kernel (gemmsmall_amd64.s) and every
// other call to the wrapped back-end. The Winograd and 1×1 convolutions
// issue thousands of such products per forward pass with M, K of 32–128
// and N of 32–512 (a band of one image), where a general BLAS spends more
// time packing and dispatching than multiplying: on the development
// machine OpenBLAS 0.3.21 ran 32×32×32 at 8 GFLOP/s and this kernel at
// 38 (BenchmarkSmallGemm).
//
// The kernel needs no packing: it keeps a 4×16 block of C in eight
// registers, broadcasts A[i][p] and streams rows of B, so B (K×N) should
// stay in cache; products with K > smallMaxK go to the back-end. Each
// element is the in-order sum over p of one FMA per term, so results do
// not depend on N, on the block or on the worker.
type smallGemm struct {
	base   Gemm
	noPack bool      // tests: never pack panels of B
	ntMode int       // tests and benchmarks: force a route for C = A·Bᵀ (ntAuto, ntBase, ntTrans)
	panels sync.Pool // *[smallMaxK * 16]float32, one per concurrent caller
	trans  sync.Pool // *[ntTransMax]float32: Bᵀ for C = A·Bᵀ, one per concurrent caller
}

// smallMaxK bounds the inner dimension routed to the kernel (B's K rows of
// a band stay in L2).
const smallMaxK = 1152

// withSmallKernel returns g wrapped by smallGemm when the kernel can run on
// this CPU, else g. NaiveGemm, the reference of the tests, is never wrapped.
func withSmallKernel(g Gemm) Gemm {
	switch g.(type) {
	case NaiveGemm, *NaiveGemm, *smallGemm:
		return g
	}
	if !haveSIMD() {
		return g
	}
	return &smallGemm{base: g}
}

// EngineGemm returns the Gemm an Engine built on g multiplies with: g
// itself, or g behind the AVX2 small-product kernel where that can run.
// Its Name is what logs should report as the back-end in use.
func EngineGemm(g Gemm) Gemm { return withSmallKernel(g) }

func (s *smallGemm) Name() string { return smallGemmName(s.base.Name()) }

// Sgemm implements Gemm.
func (s *smallGemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// A(i, p) = a[i·rs + p·ps]; the last element read is A(m−1, k−1).
	rs, ps, rowsA := lda, 1, k
	if transA {
		rs, ps, rowsA = 1, lda, m
	}
	if haveSIMD() && transB && !transA && alpha == 1 && (beta == 0 || beta == 1) && s.ntMode != ntBase &&
		m > 0 && n > 0 && k > 0 && lda >= k && ldb >= k && ldc >= n &&
		len(a) >= (m-1)*lda+k && len(b) >= (n-1)*ldb+k && len(c) >= (m-1)*ldc+n && s.sgemmNT(a, lda, b, ldb, c, ldc, m, n, k, beta == 1) {
		return
	}
	if !haveSIMD() || transB || alpha != 1 || (beta != 0 && beta != 1) ||
		m <= 0 || n <= 0 || k <= 0 || m%4 != 0 || n%8 != 0 || k > smallMaxK ||
		lda < rowsA || ldb < n || ldc < n ||
		len(a) < (m-1)*rs+(k-1)*ps+1 || len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n {
		s.base.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	acc := 0
	if beta == 1 {
		acc = 1
	}
	s.run(a, rs, ps, b, ldb, c, ldc, m, n, k, acc)
}

// run is Sgemm's kernel part for arguments it has checked: C = op(A)·B
// (acc = 0) or C += op(A)·B (acc = 1) with A(i, p) = a[i·rs + p·ps], m a
// multiple of 4, n of 8, 1 ≤ k ≤ smallMaxK.
func (s *smallGemm) run(a []float32, rs, ps int, b []float32, ldb int, c []float32, ldc int, m, n, k, acc int) {
	if useAVX512() {
		s.sgemmAVX512(a, rs, ps, b, ldb, c, ldc, m, n, k, acc)
		return
	}
	if m < packMinM || n < 16 || s.noPack || !(ldb%1024 == 0 || k*n > packMinKN) {
		for i := 0; i < m; i += 4 {
			sgemm4RowsAVX(&a[i*rs], rs, ps, &b[0], ldb, &c[i*ldc], ldc, n, k, acc)
		}
		return
	}
	// Panel by panel: the K×16 panel of B is copied to a contiguous buffer
	// (stride 16) and reused from L1 by all M/4 row blocks. Without it each
	// row block streams all of B, from L2 once B outgrows L1, and a stride
	// that is a multiple of 4 KiB (a 1×1 convolution reads B = x with
	// stride H·W) maps B's rows onto a few cache sets that then thrash.
	// The sums are the same, term by term, as without packing.
	pp, _ := s.panels.Get().(*[smallMaxK * 16]float32)
	if pp == nil {
		pp = new([smallMaxK * 16]float32)
	}
	defer s.panels.Put(pp)
	panel := pp
	j := 0
	for ; j+16 <= n; j += 16 {
		pack16AVX(&b[j], ldb, &panel[0], k)
		for i := 0; i < m; i += 4 {
			sgemm4RowsAVX(&a[i*rs], rs, ps, &panel[0], 16, &c[i*ldc+j], ldc, 16, k, acc)
		}
	}
	if j < n { // the last 8 columns
		for i := 0; i < m; i += 4 {
			sgemm4RowsAVX(&a[i*rs], rs, ps, &b[j], ldb, &c[i*ldc+j], ldc, n-j, k, acc)
		}
	}
}

// packMinM is the smallest M for which smallGemm packs panels of B: below
// it a panel is used by a single row block and the copy does not pay.
const packMinM = 8

// packMinKN is the size of B (in elements: 256 KiB) above which smallGemm
// packs panels whatever the stride: every row block would stream all of B
// from L2 (measured with BenchmarkSmallGemm: 32×512×288 runs 20–30 %
// faster packed, 32×512×96 ~8 % slower).
const packMinKN = 65536
