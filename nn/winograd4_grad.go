package nn

// F(4×4, 3×3) weight gradient. With U = G g Gᵀ and, per tile, the output
// y = Aᵀ[U ⊙ V]A (winograd4.go), the gradient of the loss with respect to
// the 6×6 element-wise product is A dY Aᵀ (dY the 4×4 output gradient of
// the tile, A = (Aᵀ)ᵀ the 6×4 adjoint of the output transform), so
//
//	dL/dU_k = Σ_t (A dY_t Aᵀ)_k V_k,t,     dL/dg = Gᵀ (dL/dU) G,
//
// summed over tiles t and images: 36 GEMMs D_k (Cout×T) · V_kᵀ (T×Cin) per
// band of T tiles instead of F(2×2)'s 16 over 4T tiles, i.e. 2.25 instead
// of 4 multiplies per output pixel and channel pair. The band's V is the
// forward's input transform (wino4InputBand); D comes from two passes of
// a6 (below) over the de-interleaved dY. The bias gradient is the sum of
// dY, which is D_7 = (A dY Aᵀ)[1][1] per tile. The transform of dY has
// only the factors 1, 2, 4 and 8; the rounding of the weight gradient is
// of the order of the F(4×4) forward's (see winograd4_test.go).

// a6 applies A (6×4, the transpose of the F(4×4) Aᵀ) lane-wise to n-vectors
// (n = len(x0)): y0 = x0, y1 = (x0 + x2) + (x1 + x3),
// y2 = (x0 + x2) − (x1 + x3), y3 = (x0 + 4x2) + 2(x1 + 4x3),
// y4 = (x0 + 4x2) − 2(x1 + 4x3), y5 = x3. The multiplications by 2 and 4
// are exact, so every path rounds alike.
func a6(x0, x1, x2, x3, y0, y1, y2, y3, y4, y5 []float32) {
	n := len(x0)
	x1, x2, x3 = x1[:n], x2[:n], x3[:n]
	y0, y1, y2, y3, y4, y5 = y0[:n], y1[:n], y2[:n], y3[:n], y4[:n], y5[:n]
	j := 0
	if v := n &^ 7; v > 0 && haveSIMD() {
		a6Vec(&x0[0], &x1[0], &x2[0], &x3[0], &y0[0], &y1[0], &y2[0], &y3[0], &y4[0], &y5[0], v)
		j = v
	}
	for ; j < n; j++ {
		a0, a1, a2, a3 := x0[j], x1[j], x2[j], x3[j]
		s02, s13 := a0+a2, a1+a3
		f := a0 + 4*a2
		h := a1 + 4*a3
		h += h
		y0[j] = a0
		y1[j] = s02 + s13
		y2[j] = s02 - s13
		y3[j] = f + h
		y4[j] = f - h
		y5[j] = a3
	}
}

// wino4GradDY writes D_k = (A dY_t Aᵀ)_k (k = 6i + j, i the row) for every
// output channel and tile t of output rows [r0, r1) (multiples of 4) of
// the output gradient dy of one image, D_k's channel o at
// D[k·winoStride(Cout, T) + o·T …]; sp (≥ 40·T floats) is scratch: its
// streams 4p + q hold dY_t[p][q], streams 16 + 6p + j the rows of dY Aᵀ.
func (c *Conv2D) wino4GradDY(dy, D, sp []float32, r0, r1, T int) {
	W := c.W
	hw := c.H * W
	ntx := W / 4
	dst := winoStride(c.Cout, T)
	sp = sp[:40*T]
	if haveSIMD() && ntx%8 == 0 && r1 > r0 {
		// One kernel call per channel (ady4TileAVX, or ady4TileAVX512 when
		// W/4 is a multiple of 16 on the avx512 path: the passes below,
		// bit for bit).
		nty := (r1 - r0) / 4
		for o := 0; o < c.Cout; o++ {
			if pairRows8(ntx) && nty >= 2 {
				// two rows of 8 tiles per block (avx512), then the odd one
				np := nty / 2
				ady4Tile2AVX512(&dy[o*hw+r0*W], np, &D[o*T], dst, &sp[:384][0])
				if nty%2 == 1 {
					ady4TileAVX(&dy[o*hw+(r0+8*np)*W], W, 1, &D[o*T+2*np*ntx], dst, &sp[0])
				}
				continue
			}
			ady4TileVec(&dy[o*hw+r0*W], W, (r1-r0)/4, &D[o*T], dst, sp)
		}
		return
	}
	st := func(k int) []float32 { return sp[k*T : (k+1)*T] }
	for o := 0; o < c.Cout; o++ {
		dyo := dy[o*hw : (o+1)*hw]
		for ty := r0 / 4; ty < r1/4; ty++ {
			t0 := (ty - r0/4) * ntx
			for p := 0; p < 4; p++ {
				q := func(m int) []float32 { return sp[(4*p+m)*T+t0 : (4*p+m)*T+t0+ntx] }
				deint4(dyo[(4*ty+p)*W:(4*ty+p+1)*W], q(0), q(1), q(2), q(3))
			}
		}
		for p := 0; p < 4; p++ { // dY Aᵀ, row p
			b := 16 + 6*p
			a6(st(4*p), st(4*p+1), st(4*p+2), st(4*p+3), st(b), st(b+1), st(b+2), st(b+3), st(b+4), st(b+5))
		}
		d := func(k int) []float32 { return D[k*dst+o*T : k*dst+(o+1)*T] }
		for j := 0; j < 6; j++ { // A (dY Aᵀ), column j
			a6(st(16+j), st(22+j), st(28+j), st(34+j), d(j), d(6+j), d(12+j), d(18+j), d(24+j), d(30+j))
		}
	}
}

// wino4GradBand adds the band's dL/dU into gU (36×Cout×Cin) and its bias
// gradient into the worker's accumulator.
func (c *Conv2D) wino4GradBand(w, i, r0, r1 int, gU []float32) {
	H, W := c.H, c.W
	hw := H * W
	ntx := W / 4
	T := (r1 - r0) / 4 * ntx
	x := c.x[i*c.Cin*hw : (i+1)*c.Cin*hw]
	dy := c.dy[i*c.Cout*hw : (i+1)*c.Cout*hw]
	kst, dst := winoStride(c.Cin, T), winoStride(c.Cout, T)
	V := c.e.scratch(w, 0, 36*kst)
	D := c.e.scratch(w, 1, 36*dst)
	sp := c.e.scratch(w, 2, max(40*T, 304))
	rb := c.e.scratch(w, 3, max(24*T, 4*(ntx+1)))
	c.wino4InputBand(x, V, sp, rb, r0, r1)
	c.wino4GradDY(dy, D, sp, r0, r1, T)
	gb := c.gb.bufs[w]
	for o := range gb {
		gb[o] += sum8(D[7*dst+o*T : 7*dst+(o+1)*T])
	}
	g := c.e.gemm
	cc := c.Cout * c.Cin
	for k := 0; k < 36; k++ {
		g.Sgemm(false, true, c.Cout, c.Cin, T, 1, D[k*dst:], T, V[k*kst:], T, 1, gU[k*cc:], c.Cin)
	}
}

// wino4FoldGrad adds Gᵀ (Σ_w gUs[w]) G, with G the 6×3 F(4×4) weight
// transform of winograd4.go, into gw for the channel pairs
// p = o·Cin + ci in [p0, p1), in float64 (the workers' dL/dU summed in
// worker order).
func (c *Conv2D) wino4FoldGrad(gUs [][]float32, gw []float32, p0, p1 int) {
	const r6, r12, r24 = 1.0 / 6, 1.0 / 12, 1.0 / 24
	cc := c.Cout * c.Cin
	// The 36 blocks of a pair lie cc floats apart (a multiple of 4 KiB at
	// most shapes): read them as 36 short runs of foldBlock pairs into X,
	// not one strided element at a time (2 ms against 0.1 ms for a
	// 64→64 layer).
	var X [36][foldBlock]float64
	for q0 := p0; q0 < p1; q0 += foldBlock {
		n := min(foldBlock, p1-q0)
		for k := range X {
			xk := X[k][:n]
			clear(xk)
			for _, gU := range gUs {
				for j, v := range gU[k*cc+q0 : k*cc+q0+n] {
					xk[j] += float64(v)
				}
			}
		}
		for j := 0; j < n; j++ {
			var Y [3][6]float64 // Gᵀ X
			for b := 0; b < 6; b++ {
				x0, x1, x2, x3, x4, x5 := X[b][j], X[6+b][j], X[12+b][j], X[18+b][j], X[24+b][j], X[30+b][j]
				Y[0][b] = 0.25*x0 - (x1+x2)*r6 + (x3+x4)*r24
				Y[1][b] = (x2-x1)*r6 + (x3-x4)*r12
				Y[2][b] = (x3+x4-x1-x2)*r6 + x5
			}
			p := q0 + j
			g := gw[p*9 : p*9+9]
			for u := 0; u < 3; u++ {
				y := &Y[u]
				g[u*3+0] += float32(0.25*y[0] - (y[1]+y[2])*r6 + (y[3]+y[4])*r24)
				g[u*3+1] += float32((y[2]-y[1])*r6 + (y[3]-y[4])*r12)
				g[u*3+2] += float32((y[3]+y[4]-y[1]-y[2])*r6 + y[5])
			}
		}
	}
}

// allocGU sizes the per-worker Winograd weight-gradient accumulators for
// the transform in use: 36 (F(4×4)) or 16 (F(2×2)) Cout×Cin blocks.
func (c *Conv2D) allocGU() {
	if c.wU == nil {
		return
	}
	n := 16
	if c.wino4 {
		n = 36
	}
	if len(c.gU) != c.e.workers {
		c.gU = make([][]float32, c.e.workers)
	}
	for w := range c.gU {
		if len(c.gU[w]) != n*c.Cout*c.Cin {
			c.gU[w] = make([]float32, n*c.Cout*c.Cin)
		}
	}
}
