package nn

// Dispatch between the AVX2 and AVX-512 versions of kernels that have
// both, for callers that have already checked haveSIMD (the AVX2 path or
// better). The AVX-512 versions give bitwise equal results.

// bt6Vec is bt6AVX or bt6AVX512 (n a positive multiple of 8).
func bt6Vec(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 *float32, n int) {
	if useAVX512() {
		bt6AVX512(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5, n)
		return
	}
	bt6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5, n)
}

// at6Vec is at6AVX or at6AVX512 (n a positive multiple of 8).
func at6Vec(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 *float32, n int) {
	if useAVX512() {
		at6AVX512(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, n)
		return
	}
	at6AVX(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, n)
}
