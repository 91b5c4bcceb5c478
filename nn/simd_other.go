//go:build !amd64 || purego

package nn

func haveSIMD() bool { return false }

func gnSiluFwdAVX(x, xh, sg, y *float32, n int, m, r, gam, bet float32, store int) {
	panic("nn: no SIMD kernels on this platform")
}

func gnSiluBwdAVX(h, dy, sg, dx *float32, n int, gam, bet float32, acc *[16]float32) {
	panic("nn: no SIMD kernels on this platform")
}

func gnBwdFinishAVX(ds, h *float32, n int, r, m1, m2 float32) {
	panic("nn: no SIMD kernels on this platform")
}

func expSubAVX(row *float32, n int, m float32, acc *[8]float32) {
	panic("nn: no SIMD kernels on this platform")
}

func bt4AVX(x0, x1, x2, x3, y0, y1, y2, y3 *float32, n int) {
	panic("nn: no SIMD kernels on this platform")
}

func at4AVX(x0, x1, x2, x3, u, w *float32, n int) { panic("nn: no SIMD kernels on this platform") }

func deintAVX(r, ev, od *float32, n int) { panic("nn: no SIMD kernels on this platform") }

func interAVX(a, b, y *float32, n int, bias float32) {
	panic("nn: no SIMD kernels on this platform")
}

func sgemm4RowsAVX(a *float32, rs, ps int, b *float32, ldb int, c *float32, ldc int, n, k int, acc int) {
	panic("nn: no SIMD kernels on this platform")
}

func pack16AVX(b *float32, ldb int, dst *float32, k int) {
	panic("nn: no SIMD kernels on this platform")
}

func addScaleAVX(y, s *float32, n int, k float32) {
	panic("nn: no SIMD kernels on this platform")
}

func fillAVX(y *float32, n int, v float32) {
	panic("nn: no SIMD kernels on this platform")
}

func sumSqF64AVX(x *float32, n int, shift float64) (s1, s2 float64) {
	panic("nn: no SIMD kernels on this platform")
}

func normT8AVX(src *float32, lds int, inv *[8]float32, dst *float32, ldd int, n int) {
	panic("nn: no SIMD kernels on this platform")
}

func maxScaleAVX(row *float32, n int, scale float32) float32 {
	panic("nn: no SIMD kernels on this platform")
}

func fillColsAVX(y *float32, ld int, b *float32, rows, n int) {
	panic("nn: no SIMD kernels on this platform")
}

func adyaAVX(y0, y1 *float32, ntx int, d *float32, dst int) {
	panic("nn: no SIMD kernels on this platform")
}

func axpyAVX(y, x *float32, n int, s float32) { panic("nn: no SIMD kernels on this platform") }

func sum8AVX(x *float32, n int, acc *[8]float32) { panic("nn: no SIMD kernels on this platform") }

func transpose8AVX(src *float32, lds int, dst *float32, ldd int, nb int) {
	panic("nn: no SIMD kernels on this platform")
}

func scaleAVX(y, x *float32, n int, k float32) { panic("nn: no SIMD kernels on this platform") }
