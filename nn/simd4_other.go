//go:build !amd64 || purego

package nn

func bt6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 *float32, n int) {
	panic("nn: no SIMD kernels on this platform")
}

func at6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 *float32, n int) {
	panic("nn: no SIMD kernels on this platform")
}

func deint4AVX(r, q0, q1, q2, q3 *float32, n int) { panic("nn: no SIMD kernels on this platform") }

func inter4AVX(z0, z1, z2, z3, y *float32, n int, bias float32) {
	panic("nn: no SIMD kernels on this platform")
}

func bt6RowAVX(x *float32, ntx int, y *float32, ys int) {
	panic("nn: no SIMD kernels on this platform")
}

func bt4TileAVX(r0, r1, r2, r3 *float32, ntx int, v *float32, vs int) {
	panic("nn: no SIMD kernels on this platform")
}

func bt4Tile4AVX(r0, r1, r2, r3 *float32, v *float32, vs int) {
	panic("nn: no SIMD kernels on this platform")
}

func bt6TileAVX(rows *[6]*float32, ntx int, v *float32, vs int, tmp *float32) {
	panic("nn: no SIMD kernels on this platform")
}

func at6TileAVX(m *float32, ms, ntx int, y *float32, w int, bias float32, s *float32, k float32, tmp *float32) {
	panic("nn: no SIMD kernels on this platform")
}

func a6AVX(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5 *float32, n int) {
	panic("nn: no SIMD kernels on this platform")
}

func ady4TileAVX(dy *float32, w, nty int, d *float32, ds int, tmp *float32) {
	panic("nn: no SIMD kernels on this platform")
}
