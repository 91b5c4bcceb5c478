//go:build !amd64 || purego

package nn

func bt6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 *float32, n int) {
	panic("nn: no SIMD kernels on this platform")
}

func at6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 *float32, n int) {
	panic("nn: no SIMD kernels on this platform")
}
