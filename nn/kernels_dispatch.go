package nn

// Dispatch between the AVX2 and AVX-512 versions of kernels that have
// both, for callers that have already checked haveSIMD (the AVX2 path or
// better). The AVX-512 versions give bitwise equal results (except the
// row sums of expSub, gnSiluBwd and sumSqF64, which fold 16 lanes to 8:
// equal to rounding).
//
// The fused F(4×4) Winograd tile-row kernels have AVX-512 twins that take
// 16 tiles per block (simd4_avx512_amd64.s, since late on 2026-12-07):
// bt6TileAVX512, at6TileAVX512 and ady4TileAVX512 when a row has a
// multiple of 16 tiles (images at least 64 pixels wide: the network's
// 64×64 layers), and bt6Tile2AVX512, at6Tile2AVX512 and ady4Tile2AVX512,
// which take two rows of 8 tiles as one block (32 pixels wide: the 32×32
// layers; pairRows8), with the AVX2 kernel for a band's odd last row and
// for other widths; bt6AVX512 and at6AVX512 serve bt6 and at6 on widths
// that are not a multiple of 32. a6AVX, axpyAVX (AddTo, the gradient
// reductions), scaleAVX (ResBlock's dL/dh = s·dL/dy) and transpose8AVX
// (the 8×8 transposes of B in C = A·Bᵀ, gemm_nt.go; pure data movement)
// have AVX-512 twins as well.
//
// Kernels without an AVX-512 version run their AVX2 one on the avx512
// path, by being called directly: bt4TileAVX and bt4Tile4AVX (the F(2×2)
// input, which the network uses below 32×32, where a row has at most 8
// tiles), the F(2×2) interleave interAVX, the weight gradients' adyaAVX,
// sum8AVX (its eight lane sums fix the order of the additions, which 16
// lanes would change), deint, deint4, inter4 (the F(4×4) Go passes'
// helpers, on widths the fused kernels do not take), normT8 and the pack16
// copy. Whether the AVX-512 versions gain on an AVX-512 CPU is not
// measured (no such machine was available); scripts/test-avx512-emulated
// checks that they are correct.

// pairRows8 reports whether F(4×4) rows of ntx tiles go to the kernels
// that take two rows of 8 tiles as one block of 16 (bt6Tile2AVX512,
// at6Tile2AVX512, ady4Tile2AVX512: the avx512 path, 32-pixel-wide layers);
// a band's odd last row of tiles goes to the AVX2 kernel.
func pairRows8(ntx int) bool { return ntx == 8 && useAVX512() }

// transpose8Vec transposes nb ≥ 1 8×8 blocks side by side along eight
// rows of src into blocks stacked down eight columns of dst, as
// transpose8AVX: on the avx512 path transpose8AVX512 takes them two at a
// time and transpose8AVX an odd last one.
func transpose8Vec(src []float32, lds int, dst []float32, ldd, nb int) {
	if np := nb / 2; np > 0 && useAVX512() {
		transpose8AVX512(&src[0], lds, &dst[0], ldd, np)
		if nb%2 == 0 {
			return
		}
		src, dst, nb = src[16*np:], dst[16*np*ldd:], 1
	}
	transpose8AVX(&src[0], lds, &dst[0], ldd, nb)
}

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

// gnSiluFwdVec is gnSiluFwdAVX or gnSiluFwdAVX512 (n a positive multiple
// of 8).
func gnSiluFwdVec(x, xh, sg, y *float32, n int, m, r, gam, bet float32, store int) {
	if useAVX512() {
		gnSiluFwdAVX512(x, xh, sg, y, n, m, r, gam, bet, store)
		return
	}
	gnSiluFwdAVX(x, xh, sg, y, n, m, r, gam, bet, store)
}

// expSubVec is expSubAVX or expSubAVX512 (n a positive multiple of 8).
func expSubVec(row *float32, n int, m float32, acc *[8]float32) {
	if useAVX512() {
		expSubAVX512(row, n, m, acc)
		return
	}
	expSubAVX(row, n, m, acc)
}

// gnSiluBwdVec is gnSiluBwdAVX or gnSiluBwdAVX512 (n a positive multiple
// of 8).
func gnSiluBwdVec(h, dy, sg, dx *float32, n int, gam, bet float32, acc *[16]float32) {
	if useAVX512() {
		gnSiluBwdAVX512(h, dy, sg, dx, n, gam, bet, acc)
		return
	}
	gnSiluBwdAVX(h, dy, sg, dx, n, gam, bet, acc)
}

// gnBwdFinishVec is gnBwdFinishAVX or gnBwdFinishAVX512.
func gnBwdFinishVec(ds, h *float32, n int, r, m1, m2 float32) {
	if useAVX512() {
		gnBwdFinishAVX512(ds, h, n, r, m1, m2)
		return
	}
	gnBwdFinishAVX(ds, h, n, r, m1, m2)
}

// addScaleVec is addScaleAVX or addScaleAVX512.
func addScaleVec(y, s *float32, n int, k float32) {
	if useAVX512() {
		addScaleAVX512(y, s, n, k)
		return
	}
	addScaleAVX(y, s, n, k)
}

// maxScaleVec is maxScaleAVX or maxScaleAVX512.
func maxScaleVec(row *float32, n int, scale float32) float32 {
	if useAVX512() {
		return maxScaleAVX512(row, n, scale)
	}
	return maxScaleAVX(row, n, scale)
}

// sumSqF64Vec is sumSqF64AVX or sumSqF64AVX512.
func sumSqF64Vec(x *float32, n int, shift float64) (s1, s2 float64) {
	if useAVX512() {
		return sumSqF64AVX512(x, n, shift)
	}
	return sumSqF64AVX(x, n, shift)
}

// fillVec is fillAVX or fillAVX512.
func fillVec(y *float32, n int, v float32) {
	if useAVX512() {
		fillAVX512(y, n, v)
		return
	}
	fillAVX(y, n, v)
}

// fillColsVec is fillColsAVX or fillColsAVX512.
func fillColsVec(y *float32, ld int, b *float32, rows, n int) {
	if useAVX512() {
		fillColsAVX512(y, ld, b, rows, n)
		return
	}
	fillColsAVX(y, ld, b, rows, n)
}

// bt4Vec is bt4AVX or bt4AVX512 (n a positive multiple of 8).
func bt4Vec(x0, x1, x2, x3, y0, y1, y2, y3 *float32, n int) {
	if useAVX512() {
		bt4AVX512(x0, x1, x2, x3, y0, y1, y2, y3, n)
		return
	}
	bt4AVX(x0, x1, x2, x3, y0, y1, y2, y3, n)
}

// at4Vec is at4AVX or at4AVX512 (n a positive multiple of 8).
func at4Vec(x0, x1, x2, x3, u, w *float32, n int) {
	if useAVX512() {
		at4AVX512(x0, x1, x2, x3, u, w, n)
		return
	}
	at4AVX(x0, x1, x2, x3, u, w, n)
}

// bt6TileVec is bt6TileAVX512 when the AVX-512 path is on and ntx is a
// multiple of 16, otherwise bt6TileAVX (ntx a positive multiple of 8);
// tmp holds at least 576 floats in the first case, 304 in the second.
func bt6TileVec(rows *[6]*float32, ntx int, v *float32, vs int, tmp []float32) {
	if ntx%16 == 0 && useAVX512() {
		bt6TileAVX512(rows, ntx, v, vs, &tmp[:576][0])
		return
	}
	bt6TileAVX(rows, ntx, v, vs, &tmp[:304][0])
}

// at6TileVec is at6TileAVX512 when the AVX-512 path is on and ntx is a
// multiple of 16, otherwise at6TileAVX (ntx a positive multiple of 8);
// tmp holds at least 384 floats in the first case, 192 in the second.
func at6TileVec(m *float32, ms, ntx int, y *float32, w int, bias float32, s *float32, k float32, tmp []float32) {
	if ntx%16 == 0 && useAVX512() {
		at6TileAVX512(m, ms, ntx, y, w, bias, s, k, &tmp[:384][0])
		return
	}
	at6TileAVX(m, ms, ntx, y, w, bias, s, k, &tmp[:192][0])
}

// ady4TileVec is ady4TileAVX512 when the AVX-512 path is on and w/4 is a
// multiple of 16, otherwise ady4TileAVX (w/4 a positive multiple of 8);
// tmp holds at least 384 floats in the first case, 192 in the second.
func ady4TileVec(dy *float32, w, nty int, d *float32, ds int, tmp []float32) {
	if (w/4)%16 == 0 && useAVX512() {
		ady4TileAVX512(dy, w, nty, d, ds, &tmp[:384][0])
		return
	}
	ady4TileAVX(dy, w, nty, d, ds, &tmp[:192][0])
}

// a6Vec is a6AVX or a6AVX512 (n a positive multiple of 8).
func a6Vec(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5 *float32, n int) {
	if useAVX512() {
		a6AVX512(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5, n)
		return
	}
	a6AVX(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5, n)
}

// axpyVec is axpyAVX or axpyAVX512 (n a positive multiple of 8).
func axpyVec(y, x *float32, n int, s float32) {
	if useAVX512() {
		axpyAVX512(y, x, n, s)
		return
	}
	axpyAVX(y, x, n, s)
}

// scaleVec is scaleAVX or scaleAVX512 (n a positive multiple of 8).
func scaleVec(y, x *float32, n int, k float32) {
	if useAVX512() {
		scaleAVX512(y, x, n, k)
		return
	}
	scaleAVX(y, x, n, k)
}
