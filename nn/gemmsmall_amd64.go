//go:build !purego

package nn

// sgemm4RowsAVX computes four rows of C = A·B (or C += A·B if acc ≠ 0)
// with A(i, p) = a[i·rs + p·ps], row-major B (ldb) and C (ldc), n a positive
// multiple of 8, k ≥ 1. See gemmsmall_amd64.s.
//
//go:noescape
func sgemm4RowsAVX(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, n, k int, acc int)

// pack16AVX copies a K×16 column panel of B (row stride ldb) into dst with
// row stride 16: dst[16p+j] = b[p·ldb+j], p < k, j < 16; k ≥ 1.
//
//go:noescape
func pack16AVX(b *float32, ldb int, dst *float32, k int)

// transpose8AVX transposes nb 8×8 blocks side by side along eight rows of
// src into nb blocks stacked down eight columns of dst: dst[(8b+p)·ldd + r]
// = src[r·lds + 8b + p] (strides in elements, nb ≥ 1). See gemmnt_amd64.s;
// transpose8Vec chooses it or its AVX-512 twin.
//
//go:noescape
func transpose8AVX(src *float32, lds int, dst *float32, ldd int, nb int)
