//go:build !purego

package nn

// sgemm4RowsAVX computes four rows of C = A·B (or C += A·B if acc ≠ 0)
// with A(i, p) = a[i·rs + p·ps], row-major B (ldb) and C (ldc), n a positive
// multiple of 8, k ≥ 1. See gemmsmall_amd64.s.
//
//go:noescape
func sgemm4RowsAVX(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, n, k int, acc int)
