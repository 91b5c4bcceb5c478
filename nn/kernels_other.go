//go:build !amd64 || purego

package nn

func cpuKernelLevel() int { return levelPureGo }

func sgemm4RowsAVX512(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, n, k int, acc int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func pack32AVX512(b *float32, ldb int, dst *float32, k int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func bt6AVX512(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 *float32, n int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func at6AVX512(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 *float32, n int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func gnSiluFwdAVX512(x, xh, sg, y *float32, n int, m, r, gam, bet float32, store int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func expSubAVX512(row *float32, n int, m float32, acc *[8]float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func gnSiluBwdAVX512(h, dy, sg, dx *float32, n int, gam, bet float32, acc *[16]float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func gnBwdFinishAVX512(ds, h *float32, n int, r, m1, m2 float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func addScaleAVX512(y, s *float32, n int, k float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func maxScaleAVX512(row *float32, n int, scale float32) float32 {
	panic("nn: no AVX-512 kernels on this platform")
}

func sumSqF64AVX512(x *float32, n int, shift float64) (s1, s2 float64) {
	panic("nn: no AVX-512 kernels on this platform")
}

func fillAVX512(y *float32, n int, v float32) { panic("nn: no AVX-512 kernels on this platform") }

func fillColsAVX512(y *float32, ld int, b *float32, rows, n int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func bt4AVX512(x0, x1, x2, x3, y0, y1, y2, y3 *float32, n int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func at4AVX512(x0, x1, x2, x3, u, w *float32, n int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func bt6TileAVX512(rows *[6]*float32, ntx int, v *float32, vs int, tmp *float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func at6TileAVX512(m *float32, ms, ntx int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func ady4TileAVX512(dy *float32, w, nty int, d *float32, ds int, tmp *float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func a6AVX512(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5 *float32, n int) {
	panic("nn: no AVX-512 kernels on this platform")
}

func axpyAVX512(y, x *float32, n int, s float32) { panic("nn: no AVX-512 kernels on this platform") }

func scaleAVX512(y, x *float32, n int, k float32) { panic("nn: no AVX-512 kernels on this platform") }

func bt6Tile2AVX512(rows *[10]*float32, v *float32, vs int, tmp *float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func at6Tile2AVX512(m *float32, ms int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func ady4Tile2AVX512(dy *float32, npair int, d *float32, ds int, tmp *float32) {
	panic("nn: no AVX-512 kernels on this platform")
}

func transpose8AVX512(src *float32, lds int, dst *float32, ldd int, np int) {
	panic("nn: no AVX-512 kernels on this platform")
}
