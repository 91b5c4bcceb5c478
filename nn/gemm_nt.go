package nn

// The weight-gradient products C += A·Bᵀ — above all the Winograd layers'
// dL/dU_k += D_k·V_kᵀ (A = D: Cout×T, B = V: Cin×T, K = T = 8…64 tiles of
// a band, ≈ 75 % of the training step's NT FLOPs), also the im2col and
// 1×1 layers' dW += dY·colᵀ and attention's projections — read both
// operands along their rows. OpenBLAS 0.3.21 packs both operands on every
// call; at K ≤ 64 that overhead is a large part of the call. For those
// shapes smallGemm writes Bᵀ (K×N) into a buffer with 8×8 register
// transposes (transpose8AVX; K·N floats moved for M·N·K multiply-adds)
// and runs C (+)= A·(Bᵀ) on the small-product kernel: the kernel's sums,
// term by term in order, so the result does not depend on the route's
// buffer. BenchmarkGemmNT (thread CPU time, loaded machine) measured the
// transposed route at 0.45–0.8 of OpenBLAS's time for K ≤ 64 (64×64×64
// once equal, within the noise) and at 0.75–1.4 for K ≥ 128, which stays
// with the back-end. A dot-product kernel reading both operands in place
// (a 2×4 block of C as eight 8-lane accumulators, the lanes added at the
// end) was slower than OpenBLAS at K ≤ 64 (64×64×32: 1.3 times its time;
// its lane reduction costs about as much as eight FMAs per element of C)
// and was not kept.

// NT routes (smallGemm.ntMode forces one in tests and benchmarks).
const (
	ntAuto = iota
	ntBase
	ntTrans
)

// ntMaxK is the largest K routed to the transposed route by default.
const ntMaxK = 64

// ntChunk is the longest stretch of K transposed and multiplied at once;
// longer products (only with ntMode = ntTrans: K ≤ ntMaxK otherwise) add up
// stretches, their sums in that order. A variable for BenchmarkGemmNT,
// which alone changes it.
var ntChunk = 64

// ntPad pads the rows of the Bᵀ buffer: with a row stride of N floats, N
// a multiple of 256, the kernel's 16-column panel of Bᵀ fell on 4 of L1's
// 64 sets and ran 25 % slower (BenchmarkGemmNT, 64×256×256).
const ntPad = 16

// ntTransMax is the largest Bᵀ (K·N floats, 256 KiB) the transposed route
// buffers.
const ntTransMax = 65536

// sgemmNT runs C (+)= A·Bᵀ (acc: +=) on the transposed route and reports
// whether it did; false leaves the product to the caller. The caller has
// checked alpha = 1, beta ∈ {0, 1}, the leading dimensions and lengths.
func (s *smallGemm) sgemmNT(a []float32, lda int, b []float32, ldb int, c []float32, ldc int, m, n, k int, acc bool) bool {
	if m%4 != 0 || n%8 != 0 || k%8 != 0 || s.ntMode == ntBase || (s.ntMode == ntAuto && k > ntMaxK) {
		return false
	}
	ldt := n + ntPad
	kc := min(k, ntChunk, ntTransMax/ldt/8*8)
	if kc == 0 {
		return false
	}
	tp, _ := s.trans.Get().(*[ntTransMax]float32)
	if tp == nil {
		tp = new([ntTransMax]float32)
	}
	ia := 0
	if acc {
		ia = 1
	}
	for p0 := 0; p0 < k; p0 += kc {
		q := min(kc, k-p0)
		bt := tp[:q*ldt]
		transposeInto(bt, ldt, b[p0:], ldb, n, q)
		s.run(a[p0:], lda, 1, bt, ldt, c, ldc, m, n, q, ia)
		ia = 1
	}
	s.trans.Put(tp)
	return true
}

// transposeInto writes Bᵀ (k×n, row stride ldt ≥ n) of B (n×k, row
// stride ldb) into dst; n and k are multiples of 8. The vector paths use
// transpose8Vec (transpose8AVX, or transpose8AVX512 on the avx512 path),
// purego the loop below, which is its reference.
func transposeInto(dst []float32, ldt int, b []float32, ldb, n, k int) {
	if haveSIMD() && k > 0 {
		for j := 0; j < n; j += 8 {
			transpose8Vec(b[j*ldb:], ldb, dst[j:], ldt, k/8)
		}
		return
	}
	transposeGo(dst, ldt, b, ldb, n, k)
}

// transposeGo is transposeInto in plain Go, for any n and k.
func transposeGo(dst []float32, ldt int, b []float32, ldb, n, k int) {
	for j := 0; j < n; j++ {
		for p, v := range b[j*ldb : j*ldb+k] {
			dst[p*ldt+j] = v
		}
	}
}
