package nn

import "unsafe"

// Winograd F(4×4, 3×3) forward for "same" 3×3 stride-1 convolutions whose
// sizes are multiples of 4 and large enough (useWinograd4). With the
// interpolation points 0, ±1, ±2 and ∞ (Lavin & Gray 2016, "Fast
// algorithms for convolutional neural networks"), each 4×4 output tile is
// Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, d the 6×6 input patch around it, with
//
//	Bᵀ = [4  0 −5  0 1 0;        G = [ 1/4     0     0;
//	      0 −4 −4  1 1 0;             −1/6  −1/6  −1/6;
//	      0  4 −4 −1 1 0;             −1/6   1/6  −1/6;
//	      0 −2 −1  2 1 0;             1/24  1/12   1/6;
//	      0  2 −1 −2 1 0;             1/24 −1/12   1/6;
//	      0  4  0 −5 0 1],               0     0     1],
//
//	Aᵀ = [1 1  1 1  1 0;
//	      0 1 −1 2 −2 0;
//	      0 1  1 4  4 0;
//	      0 1 −1 8 −8 1].
//
// Summed over input channels, the 36 element-wise products become 36 GEMMs
// U_k (Cout×Cin) · V_k (Cin×tiles): 36 multiplies per 16 outputs and
// channel pair, 2.25 per output instead of 4 for F(2×2, 3×3) and 9 for
// direct convolution. The fractions live in G, whose transform is computed
// once per weight update in float64; Bᵀ and Aᵀ have small integer entries,
// so the float32 transforms of the data add rounding errors: on random
// data the error relative to max|y| is 1e-6…2.5e-6, about ten times that
// of F(2×2) (1e-7), see winograd4_test.go.
//
// The weight gradient uses F(4×4) too (winograd4_grad.go: its V is the
// forward's input transform, recomputed per band), and the transposed
// convolution that computes dx uses F(4×4) under the same shape rule as the
// forward.

// wino4MinPixels is the smallest image (H·W) whose convolutions use
// F(4×4): below it the tiles per band are too few for the 36 GEMMs to pay
// (measured with BenchmarkWinograd in winograd4_test.go: F(4×4) is
// 1.3–1.8× faster at 32×32 and 64×64, even at 16×16, slower at 8×8).
const wino4MinPixels = 32 * 32

// useWinograd4 reports whether the convolution's Winograd forward is
// F(4×4, 3×3). It depends only on the layer's shape.
func (c *Conv2D) useWinograd4() bool {
	return c.useWinograd() && c.H%4 == 0 && c.W%4 == 0 && c.H*c.W >= wino4MinPixels
}

// setWino4 switches the Winograd forward of c (and of its transposed
// convolution, if that runs Winograd) between F(4×4) and F(2×2); tests and
// benchmarks use it to force either on any shape with sizes multiple of 4.
func (c *Conv2D) setWino4(on bool) {
	for _, d := range []*Conv2D{c, c.tconv} {
		if d == nil || d.wU == nil {
			continue
		}
		d.wino4 = on && d.H%4 == 0 && d.W%4 == 0
		n := 16
		d.wwt = d.winoWeightsRow
		if d.wino4 {
			n = 36
			d.wwt = d.wino4WeightsRow
		}
		d.wU = make([]float32, n*d.Cout*d.Cin)
		d.wUGen = -1
	}
	c.allocGU()
	c.flipGen = -1
	c.setTileRows(c.tileRows)
}

// winoForward computes output rows [r0, r1) of image i with whichever
// Winograd forward c uses; it reports whether it applied c.resid too.
func (c *Conv2D) winoForward(w, i, r0, r1 int) bool {
	if c.wino4 {
		return c.wino4Band(w, i, r0, r1)
	}
	c.winoBand(w, i, r0, r1)
	return false
}

// wino4WeightsRow sets wU[k][o][ci] = (G g Gᵀ)[k] (k = 6a + b) for the
// kernels g = W[o, ci] of output channel o, in float64. G's fractions are
// multiplications by the float64 reciprocals (a division costs several
// times a multiplication, and the training step transforms every weight
// twice, for the forward and for the flipped kernel of dx), and each
// application of G shares its sums (g0 + g2, the ±g1 terms); a float32
// result can differ from the direct formula's only by its last bit, where
// the float64 value lies within a few float64 ulps of a float32 rounding
// boundary. The 36 values of up to foldBlock input channels go to a
// buffer first and then to the 36 rows of wU in runs (the rows lie Cout·Cin
// floats apart, often a multiple of 4 KiB).
func (c *Conv2D) wino4WeightsRow(_, o int) {
	cc := c.Cout * c.Cin
	var buf [36][foldBlock]float32
	for c0 := 0; c0 < c.Cin; c0 += foldBlock {
		n := min(foldBlock, c.Cin-c0)
		for j := 0; j < n; j++ {
			ci := c0 + j
			g := c.Weight.Data[(o*c.Cin+ci)*9 : (o*c.Cin+ci+1)*9 : (o*c.Cin+ci+1)*9]
			var gg [6][3]float64 // G g
			for v := 0; v < 3; v++ {
				gg[0][v], gg[1][v], gg[2][v], gg[3][v], gg[4][v], gg[5][v] = gRow(float64(g[v]), float64(g[3+v]), float64(g[6+v]))
			}
			for a := 0; a < 6; a++ { // row a of (G g) Gᵀ
				u0, u1, u2, u3, u4, u5 := gRow(gg[a][0], gg[a][1], gg[a][2])
				buf[6*a][j], buf[6*a+1][j], buf[6*a+2][j] = float32(u0), float32(u1), float32(u2)
				buf[6*a+3][j], buf[6*a+4][j], buf[6*a+5][j] = float32(u3), float32(u4), float32(u5)
			}
		}
		for k := range buf {
			copy(c.wU[k*cc+o*c.Cin+c0:k*cc+o*c.Cin+c0+n], buf[k][:n])
		}
	}
}

// gRow returns G (x0, x1, x2)ᵀ for the F(4×4) weight transform G of this
// file's comment.
func gRow(x0, x1, x2 float64) (y0, y1, y2, y3, y4, y5 float64) {
	const r6, r12, r24 = 1.0 / 6, 1.0 / 12, 1.0 / 24
	s := x0 + x2
	u := x0*r24 + x2*r6
	v := x1 * r12
	return x0 * 0.25, -(s + x1) * r6, -(s - x1) * r6, u + v, u - v, x2
}

// wino4Band computes output rows [r0, r1) (multiples of 4) of image i; it
// reports whether it applied c.resid too (the vector path does).
func (c *Conv2D) wino4Band(w, i, r0, r1 int) bool {
	H, W := c.H, c.W
	hw := H * W
	ntx := W / 4
	T := (r1 - r0) / 4 * ntx
	x := c.x[i*c.Cin*hw : (i+1)*c.Cin*hw]
	y := c.y[i*c.Cout*hw : (i+1)*c.Cout*hw]
	kst, mst := winoStride(c.Cin, T), winoStride(c.Cout, T)
	V := c.e.scratch(w, 0, 36*kst)
	M := c.e.scratch(w, 1, 36*mst)
	sp := c.e.scratch(w, 2, max(36*T, 304))
	ep := c.e.scratch(w, 3, max(24*T, 4*(ntx+1)))
	c.wino4InputBand(x, V, sp, ep, r0, r1)
	g := c.e.gemm
	for k := 0; k < 36; k++ {
		g.Sgemm(false, false, c.Cout, T, c.Cin, 1, c.wU[k*c.Cout*c.Cin:], c.Cin, V[k*kst:], T, 0, M[k*mst:], T)
	}
	if ntx%8 == 0 && T%8 == 0 && haveSIMD() {
		c.wino4OutputAVX(i, y, M, ep, r0, r1)
		return true
	}
	st := func(buf []float32, k int) []float32 { return buf[k*T : (k+1)*T] }
	for o := 0; o < c.Cout; o++ {
		m := func(k int) []float32 { return M[k*mst+o*T : k*mst+(o+1)*T] }
		// ep[6i+b] = (Aᵀ m)[i][b]
		for b := 0; b < 6; b++ {
			at6(m(b), m(6+b), m(12+b), m(18+b), m(24+b), m(30+b), st(ep, b), st(ep, 6+b), st(ep, 12+b), st(ep, 18+b))
		}
		// sp[4i+j] = (Aᵀ m A)[i][j]
		for i := 0; i < 4; i++ {
			at6(st(ep, 6*i), st(ep, 6*i+1), st(ep, 6*i+2), st(ep, 6*i+3), st(ep, 6*i+4), st(ep, 6*i+5),
				st(sp, 4*i), st(sp, 4*i+1), st(sp, 4*i+2), st(sp, 4*i+3))
		}
		b := c.Bias.Data[o]
		if c.extra != nil {
			b += c.extra[i*c.Cout+o]
		}
		yo := y[o*hw : (o+1)*hw]
		for ty := r0 / 4; ty < r1/4; ty++ {
			t0 := (ty - r0/4) * ntx
			z := func(k int) []float32 { return sp[k*T+t0 : k*T+t0+ntx] }
			for i := 0; i < 4; i++ {
				inter4(z(4*i), z(4*i+1), z(4*i+2), z(4*i+3), yo[(4*ty+i)*W:(4*ty+i+1)*W], b)
			}
		}
	}
	return false
}

// at returns the float32 off elements after p: stream addressing for the
// AVX2 kernels, whose callers bounds-check the whole extent once.
func at(p unsafe.Pointer, off int) *float32 { return (*float32)(unsafe.Add(p, 4*off)) }

// wino4OutputAVX is the output half of wino4Band (Aᵀ M A per tile, bias,
// interleave into rows of y, and the residual (y + s)·k if c.resid is set)
// for W/4 and the band's tile count multiples of 8 on AVX2: at6TileVec
// (at6TileAVX, or at6TileAVX512 when W/4 is a multiple of 16 on the
// avx512 path) transforms a row of tiles of one output channel in one
// call, with ep (≥ 24·T floats) as its scratch; at6Tile2AVX512 two rows
// of 8 tiles on the avx512 path (pairRows8).
func (c *Conv2D) wino4OutputAVX(i int, y, M, ep []float32, r0, r1 int) {
	W := c.W
	hw := c.H * W
	ntx := W / 4
	T := (r1 - r0) / 4 * ntx
	mst := winoStride(c.Cout, T)
	tmp := ep
	pair := pairRows8(ntx)
	for o := 0; o < c.Cout; o++ {
		mo := M[o*T : 35*mst+o*T+T] // m(k) = M[k·mst + o·T …] for k < 36
		b := c.Bias.Data[o]
		if c.extra != nil {
			b += c.extra[i*c.Cout+o]
		}
		yo := y[o*hw+r0*W : o*hw+r1*W]
		var so []float32
		if c.resid != nil {
			so = c.resid[(i*c.Cout+o)*hw+r0*W : (i*c.Cout+o)*hw+r1*W]
		}
		for ty := 0; ty < (r1-r0)/4; ty++ {
			var sp *float32
			if so != nil {
				sp = &so[4*ty*W]
			}
			if pair && ty+1 < (r1-r0)/4 {
				at6Tile2AVX512(&mo[ty*ntx], mst, &yo[4*ty*W], W, b, sp, c.rscale, &tmp[:384][0])
				ty++
				continue
			}
			at6TileVec(&mo[ty*ntx], mst, ntx, &yo[4*ty*W], W, b, sp, c.rscale, tmp)
		}
	}
}

// wino4InputBand writes V_k[ci][t] = (Bᵀ d B)_k of every input channel and
// tile t of output rows [r0, r1) of image x. sp (36·T) holds d B, one
// stream per (patch row a, column b); rb (≥ 4·(W/4+1)) holds one input row
// split by column mod 4.
func (c *Conv2D) wino4InputBand(x, V, sp, rb []float32, r0, r1 int) {
	H, W := c.H, c.W
	hw := H * W
	ntx := W / 4
	T := (r1 - r0) / 4 * ntx
	if ntx%8 == 0 && T%8 == 0 && W <= len(zeroRow) && haveSIMD() {
		c.wino4InputBandAVX(x, V, sp, r0, r1)
		return
	}
	kst := winoStride(c.Cin, T)
	// q0 = row[4t] with a trailing 0, q3 = row[4t+3] with a leading 0, so
	// that the patch columns 4t−1 … 4t+4 are q3[t], q0[t], q1[t], q2[t],
	// q3[t+1], q0[t+1].
	q0 := rb[0 : ntx+1]
	q1 := rb[ntx+1 : 2*ntx+1]
	q2 := rb[2*ntx+1 : 3*ntx+1]
	q3 := rb[3*ntx+1 : 4*ntx+2]
	q0[ntx], q3[0] = 0, 0
	for ci := 0; ci < c.Cin; ci++ {
		xc := x[ci*hw : (ci+1)*hw]
		for ty := r0 / 4; ty < r1/4; ty++ {
			t0 := (ty - r0/4) * ntx
			e := func(k int) []float32 { return sp[k*T+t0 : k*T+t0+ntx] }
			for a := 0; a < 6; a++ {
				iy := 4*ty - 1 + a
				if iy < 0 || iy >= H {
					for b := 0; b < 6; b++ {
						clear(e(6*a + b))
					}
					continue
				}
				deint4(xc[iy*W:(iy+1)*W], q0[:ntx], q1, q2, q3[1:])
				bt6(q3[:ntx], q0[:ntx], q1, q2, q3[1:], q0[1:],
					e(6*a), e(6*a+1), e(6*a+2), e(6*a+3), e(6*a+4), e(6*a+5))
			}
		}
		st := func(k int) []float32 { return sp[k*T : (k+1)*T] }
		v := func(k int) []float32 { return V[k*kst+ci*T : k*kst+(ci+1)*T] }
		for b := 0; b < 6; b++ {
			bt6(st(b), st(6+b), st(12+b), st(18+b), st(24+b), st(30+b),
				v(b), v(6+b), v(12+b), v(18+b), v(24+b), v(30+b))
		}
	}
}

// wino4InputBandAVX is wino4InputBand for W/4 and the band's tile count
// multiples of 8 on AVX2: bt6TileVec (bt6TileAVX, or bt6TileAVX512 when
// W/4 is a multiple of 16 on the avx512 path) transforms a row of tiles of
// one channel in one call (both passes, straight into V); sp (≥ 36·T
// floats) is its scratch. bt6Tile2AVX512 does two rows of 8 tiles at once
// on the avx512 path (pairRows8).
func (c *Conv2D) wino4InputBandAVX(x, V, sp []float32, r0, r1 int) {
	H, W := c.H, c.W
	hw := H * W
	ntx := W / 4
	T := (r1 - r0) / 4 * ntx
	kst := winoStride(c.Cin, T)
	V = V[:35*kst+c.Cin*T]
	tmp := sp
	zr := &zeroRow[:W][0]
	var rows [6]*float32
	var rows2 [10]*float32
	pair := pairRows8(ntx)
	for ci := 0; ci < c.Cin; ci++ {
		xc := x[ci*hw : (ci+1)*hw]
		for ty := r0 / 4; ty < r1/4; ty++ {
			if pair && ty+1 < r1/4 {
				for a := range rows2 {
					rows2[a] = zr
					if iy := 4*ty - 1 + a; iy >= 0 && iy < H {
						rows2[a] = &xc[iy*W]
					}
				}
				bt6Tile2AVX512(&rows2, &V[ci*T+(ty-r0/4)*ntx], kst, &tmp[:576][0])
				ty++
				continue
			}
			for a := range rows {
				rows[a] = zr
				if iy := 4*ty - 1 + a; iy >= 0 && iy < H {
					rows[a] = &xc[iy*W]
				}
			}
			bt6TileVec(&rows, ntx, &V[ci*T+(ty-r0/4)*ntx], kst, tmp)
		}
	}
}

// bt6 applies the F(4×4) input transform Bᵀ along one axis to n-vectors
// (n = len(x0)).
func bt6(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3, y4, y5 []float32) {
	n := len(x0)
	x1, x2, x3, x4, x5 = x1[:n], x2[:n], x3[:n], x4[:n], x5[:n]
	y0, y1, y2, y3, y4, y5 = y0[:n], y1[:n], y2[:n], y3[:n], y4[:n], y5[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		bt6Vec(&x0[0], &x1[0], &x2[0], &x3[0], &x4[0], &x5[0], &y0[0], &y1[0], &y2[0], &y3[0], &y4[0], &y5[0], v)
		j = v
	}
	for ; j < n; j++ {
		a0, a1, a2, a3, a4, a5 := x0[j], x1[j], x2[j], x3[j], x4[j], x5[j]
		p := a4 - 4*a2 // ±: y1, y2
		q := a3 - 4*a1
		r := a4 - a2 // ±: y3, y4
		s := 2 * (a3 - a1)
		y0[j] = (a4 - 5*a2) + 4*a0
		y1[j] = p + q
		y2[j] = p - q
		y3[j] = r + s
		y4[j] = r - s
		y5[j] = (a5 - 5*a3) + 4*a1
	}
}

// at6 applies the F(4×4) output transform Aᵀ along one axis to n-vectors.
func at6(x0, x1, x2, x3, x4, x5, y0, y1, y2, y3 []float32) {
	n := len(x0)
	x1, x2, x3, x4, x5 = x1[:n], x2[:n], x3[:n], x4[:n], x5[:n]
	y0, y1, y2, y3 = y0[:n], y1[:n], y2[:n], y3[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		at6Vec(&x0[0], &x1[0], &x2[0], &x3[0], &x4[0], &x5[0], &y0[0], &y1[0], &y2[0], &y3[0], v)
		j = v
	}
	for ; j < n; j++ {
		s12, d12 := x1[j]+x2[j], x1[j]-x2[j]
		s34, d34 := x3[j]+x4[j], x3[j]-x4[j]
		y0[j] = x0[j] + s12 + s34
		y1[j] = d12 + 2*d34
		y2[j] = s12 + 4*s34
		y3[j] = d12 + 8*d34 + x5[j]
	}
}

// deint4 splits r by index mod 4: q_m[j] = r[4j+m], len(q0) of each.
func deint4(r, q0, q1, q2, q3 []float32) {
	n := len(q0)
	r, q1, q2, q3 = r[:4*n], q1[:n], q2[:n], q3[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		deint4AVX(&r[0], &q0[0], &q1[0], &q2[0], &q3[0], v)
		j = v
	}
	for ; j < n; j++ {
		q0[j], q1[j], q2[j], q3[j] = r[4*j], r[4*j+1], r[4*j+2], r[4*j+3]
	}
}

// inter4 interleaves: y[4j+m] = bias + z_m[j].
func inter4(z0, z1, z2, z3, y []float32, bias float32) {
	n := len(z0)
	z1, z2, z3, y = z1[:n], z2[:n], z3[:n], y[:4*n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		inter4AVX(&z0[0], &z1[0], &z2[0], &z3[0], &y[0], v, bias)
		j = v
	}
	for ; j < n; j++ {
		y[4*j], y[4*j+1], y[4*j+2], y[4*j+3] = bias+z0[j], bias+z1[j], bias+z2[j], bias+z3[j]
	}
}
