package nn

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or Xᵀ. op(A) is m×k, op(B) is k×n, C is m×n;
// lda, ldb and ldc are the row strides of A, B and C as stored.
// Implementations must be safe for concurrent use by several goroutines
// with distinct C.
type Gemm interface {
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// Name identifies the back-end in logs and `lenscore version`.
	Name() string
}

// NaiveGemm is the triple-loop definition of Gemm, kept as the reference
// against which faster back-ends are tested. It is slow.
type NaiveGemm struct{}

// Name implements Gemm.
func (NaiveGemm) Name() string { return "naive" }

// Sgemm implements Gemm. It accumulates in float64.
func (NaiveGemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			cv := float64(alpha) * s
			if beta != 0 {
				cv += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(cv)
		}
	}
}
