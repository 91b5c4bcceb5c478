//go:build !purego

package nn

// Declarations of the AVX-512 kernels (gemmsmall_avx512_amd64.s,
// winograd_avx512_amd64.s, simd_avx512_amd64.s); kernels_other.go has
// their stubs elsewhere, kernels_dispatch.go chooses between them and the
// AVX2 versions.

// sgemm4RowsAVX512 is the AVX-512 twin of sgemm4RowsAVX (same arguments,
// bitwise equal results). See gemmsmall_avx512_amd64.s.
//
//go:noescape
func sgemm4RowsAVX512(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, n, k int, acc int)

// pack32AVX512 copies a K×32 column panel of B (row stride ldb) into dst
// with row stride 32: dst[32p+j] = b[p·ldb+j], p < k, j < 32; k ≥ 1.
//
//go:noescape
func pack32AVX512(b *float32, ldb int, dst *float32, k int)

// bt6AVX512 and at6AVX512 are the AVX-512 twins of bt6AVX and at6AVX
// (same arguments, bitwise equal results). See winograd_avx512_amd64.s.
//
//go:noescape
func bt6AVX512(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 *float32, n int)

//go:noescape
func at6AVX512(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 *float32, n int)

// gnSiluFwdAVX512 and expSubAVX512 are the AVX-512 twins of gnSiluFwdAVX
// and expSubAVX (same arguments; see simd_avx512_amd64.s).
//
//go:noescape
func gnSiluFwdAVX512(x, xh, sg, y *float32, n int, m, r, gam, bet float32, store int)

//go:noescape
func expSubAVX512(row *float32, n int, m float32, acc *[8]float32)

// gnSiluBwdAVX512, gnBwdFinishAVX512 and addScaleAVX512 are the AVX-512
// twins of gnSiluBwdAVX, gnBwdFinishAVX and addScaleAVX (same arguments;
// see simd_avx512_amd64.s).
//
//go:noescape
func gnSiluBwdAVX512(h, dy, sg, dx *float32, n int, gam, bet float32, acc *[16]float32)

//go:noescape
func gnBwdFinishAVX512(ds, h *float32, n int, r, m1, m2 float32)

//go:noescape
func addScaleAVX512(y, s *float32, n int, k float32)

// maxScaleAVX512 and sumSqF64AVX512 are the AVX-512 twins of maxScaleAVX
// and sumSqF64AVX (same arguments; see simd_avx512_amd64.s).
//
//go:noescape
func maxScaleAVX512(row *float32, n int, scale float32) float32

//go:noescape
func sumSqF64AVX512(x *float32, n int, shift float64) (s1, s2 float64)

// fillAVX512 and fillColsAVX512 are the AVX-512 twins of fillAVX and
// fillColsAVX (same arguments; see simd_avx512_amd64.s).
//
//go:noescape
func fillAVX512(y *float32, n int, v float32)

//go:noescape
func fillColsAVX512(y *float32, ld int, b *float32, rows, n int)

// bt4AVX512 and at4AVX512 are the AVX-512 twins of bt4AVX and at4AVX, the
// F(2×2) transform passes (same arguments, bitwise equal results; see
// simd_avx512_amd64.s).
//
//go:noescape
func bt4AVX512(x0, x1, x2, x3, y0, y1, y2, y3 *float32, n int)

//go:noescape
func at4AVX512(x0, x1, x2, x3, u, w *float32, n int)

// bt6TileAVX512, at6TileAVX512 and ady4TileAVX512 are the AVX-512 twins
// of bt6TileAVX, at6TileAVX and ady4TileAVX: 16 tiles per block, so the
// tiles of a row (ntx, w/4) must be a positive multiple of 16, and tmp
// holds 576, 384 and 384 floats (bitwise equal results; see
// simd4_avx512_amd64.s).
//
//go:noescape
func bt6TileAVX512(rows *[6]*float32, ntx int, v *float32, vs int, tmp *float32)

//go:noescape
func at6TileAVX512(m *float32, ms, ntx int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32)

//go:noescape
func ady4TileAVX512(dy *float32, w, nty int, d *float32, ds int, tmp *float32)

// a6AVX512, axpyAVX512 and scaleAVX512 are the AVX-512 twins of a6AVX,
// axpyAVX and scaleAVX (same arguments, bitwise equal results; see
// simd4_avx512_amd64.s).
//
//go:noescape
func a6AVX512(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5 *float32, n int)

//go:noescape
func axpyAVX512(y, x *float32, n int, s float32)

//go:noescape
func scaleAVX512(y, x *float32, n int, k float32)

// bt6Tile2AVX512, at6Tile2AVX512 and ady4Tile2AVX512 are the AVX-512
// kernels of the 32-pixel-wide F(4×4) layers (8 tiles a row): they take
// two rows of tiles as one block of 16, bitwise equal to bt6TileAVX,
// at6TileAVX and ady4TileAVX on each row (see simd4_avx512_amd64.s).
//
//go:noescape
func bt6Tile2AVX512(rows *[10]*float32, v *float32, vs int, tmp *float32)

//go:noescape
func at6Tile2AVX512(m *float32, ms int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32)

//go:noescape
func ady4Tile2AVX512(dy *float32, npair int, d *float32, ds int, tmp *float32)

// transpose8AVX512 is transpose8AVX for 2·np blocks, two per step (see
// simd4_avx512_amd64.s).
//
//go:noescape
func transpose8AVX512(src *float32, lds int, dst *float32, ldd int, np int)
