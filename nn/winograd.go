package nn

import "unsafe"

// Winograd F(2×2, 3×3) forward for "same" 3×3 stride-1 convolutions on even
// image sizes (Lavin & Gray 2016, "Fast algorithms for convolutional neural
// networks"). Each 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A, with d the
// 4×4 input patch around it and
//
//	Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],
//	G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//	Aᵀ = [1 1 1 0; 0 1 −1 −1].
//
// Summed over input channels, the 16 element-wise products become 16 GEMMs
// U_k (Cout×Cin) · V_k (Cin×tiles): 16 multiplies per tile and channel pair
// instead of 36, i.e. 2.25× fewer than direct convolution. The transforms
// only add, subtract and halve, so the result differs from im2col's by
// float32 rounding.

// useWinograd reports whether the convolution's forward runs Winograd.
func (c *Conv2D) useWinograd() bool {
	return c.K == 3 && c.Stride == 1 && c.Pad == 1 && c.H%2 == 0 && c.W%2 == 0 && c.Cin >= 16
}

// winoWeights sets wU[k][o][ci] = (G g Gᵀ)[k] for every kernel g = W[o,ci]
// (the weights may have changed since the last Forward).
func (c *Conv2D) winoWeights() { c.e.RunDynamic(c.Cout, c.wwt) }

// winoWeightsRow transforms the kernels of output channel o; the 16 values
// of up to foldBlock input channels go to a buffer first and then to the
// 16 rows of wU in runs (see wino4WeightsRow).
func (c *Conv2D) winoWeightsRow(_, o int) {
	cc := c.Cout * c.Cin
	var buf [16][foldBlock]float32
	for c0 := 0; c0 < c.Cin; c0 += foldBlock {
		n := min(foldBlock, c.Cin-c0)
		for j := 0; j < n; j++ {
			ci := c0 + j
			g := c.Weight.Data[(o*c.Cin+ci)*9 : (o*c.Cin+ci+1)*9 : (o*c.Cin+ci+1)*9]
			var gg [4][3]float32 // G g
			for v := 0; v < 3; v++ {
				g0, g1, g2 := g[v], g[3+v], g[6+v]
				gg[0][v] = g0
				gg[1][v] = 0.5 * (g0 + g1 + g2)
				gg[2][v] = 0.5 * (g0 - g1 + g2)
				gg[3][v] = g2
			}
			for i := 0; i < 4; i++ {
				g0, g1, g2 := gg[i][0], gg[i][1], gg[i][2]
				buf[i*4][j] = g0
				buf[i*4+1][j] = 0.5 * (g0 + g1 + g2)
				buf[i*4+2][j] = 0.5 * (g0 - g1 + g2)
				buf[i*4+3][j] = g2
			}
		}
		for k := range buf {
			copy(c.wU[k*cc+o*c.Cin+c0:k*cc+o*c.Cin+c0+n], buf[k][:n])
		}
	}
}

// winoBand computes output rows [r0, r1) (r0, r1 even) of image i. The
// transforms run as 1-D passes (bt4, at4) over whole bands of tiles.
func (c *Conv2D) winoBand(w, i, r0, r1 int) {
	H, W := c.H, c.W
	hw := H * W
	ntx := W / 2
	T := (r1 - r0) / 2 * ntx
	x := c.x[i*c.Cin*hw : (i+1)*c.Cin*hw]
	y := c.y[i*c.Cout*hw : (i+1)*c.Cout*hw]
	kst, mst := winoStride(c.Cin, T), winoStride(c.Cout, T)
	V := c.e.scratch(w, 0, 16*kst)
	M := c.e.scratch(w, 1, 16*mst)
	sp := c.e.scratch(w, 2, 16*T)
	ep := c.e.scratch(w, 3, 16*T)
	c.winoInputBand(x, V, sp, ep, r0, r1)
	g := c.e.gemm
	for k := 0; k < 16; k++ {
		g.Sgemm(false, false, c.Cout, T, c.Cin, 1, c.wU[k*c.Cout*c.Cin:], c.Cin, V[k*kst:], T, 0, M[k*mst:], T)
	}
	fast := T%8 == 0 && haveSIMD()
	for o := 0; o < c.Cout; o++ {
		if fast {
			// the two Aᵀ passes below with offset-addressed streams
			mo := M[o*T : 15*mst+o*T+T]
			epp, spp := ep[:8*T], sp[:4*T]
			m, e, s := unsafe.Pointer(&mo[0]), unsafe.Pointer(&epp[0]), unsafe.Pointer(&spp[0])
			for j := 0; j < 4; j++ {
				at4Vec(at(m, j*mst), at(m, (4+j)*mst), at(m, (8+j)*mst), at(m, (12+j)*mst), at(e, j*T), at(e, (4+j)*T), T)
			}
			at4Vec(at(e, 0), at(e, T), at(e, 2*T), at(e, 3*T), at(s, 0), at(s, T), T)
			at4Vec(at(e, 4*T), at(e, 5*T), at(e, 6*T), at(e, 7*T), at(s, 2*T), at(s, 3*T), T)
		} else {
			c.winoOutputGo(M, sp, ep, o, T)
		}
		b := c.Bias.Data[o]
		if c.extra != nil {
			b += c.extra[i*c.Cout+o]
		}
		yo := y[o*hw : (o+1)*hw]
		for ty := r0 / 2; ty < r1/2; ty++ {
			t0 := (ty - r0/2) * ntx
			z00, z01 := sp[t0:t0+ntx], sp[T+t0:T+t0+ntx]
			z10, z11 := sp[2*T+t0:2*T+t0+ntx], sp[3*T+t0:3*T+t0+ntx]
			y0 := yo[2*ty*W : (2*ty+1)*W]
			y1 := yo[(2*ty+1)*W : (2*ty+2)*W]
			inter(z00, z01, y0, b)
			inter(z10, z11, y1, b)
		}
	}
}

// winoOutputGo writes (Aᵀ m A) of output channel o's 16 GEMM outputs m
// into sp[0:4T] (z00, z01, z10, z11), using ep[0:8T].
func (c *Conv2D) winoOutputGo(M, sp, ep []float32, o, T int) {
	mst := winoStride(c.Cout, T)
	st := func(buf []float32, k int) []float32 { return buf[k*T : (k+1)*T] }
	{
		m := func(k int) []float32 { return M[k*mst+o*T : k*mst+(o+1)*T] }
		// rows of Aᵀ m: u_j in ep[j], w_j in ep[4+j]
		for j := 0; j < 4; j++ {
			at4(m(j), m(4+j), m(8+j), m(12+j), st(ep, j), st(ep, 4+j))
		}
		// (Aᵀ m) A: z00, z01 from u; z10, z11 from w
		at4(st(ep, 0), st(ep, 1), st(ep, 2), st(ep, 3), st(sp, 0), st(sp, 1))
		at4(st(ep, 4), st(ep, 5), st(ep, 6), st(ep, 7), st(sp, 2), st(sp, 3))
	}
}

// winoInputBand writes V_k[ci][t] = (Bᵀ d B)_k of every input channel and
// tile t of output rows [r0, r1) of image x; sp and ep are 16·T scratch.
// The horizontal pass (along patch columns) comes first, then the vertical
// one, on every path.
func (c *Conv2D) winoInputBand(x, V, sp, ep []float32, r0, r1 int) {
	H, W := c.H, c.W
	hw := H * W
	ntx := W / 2
	T := (r1 - r0) / 2 * ntx
	kst := winoStride(c.Cin, T) // stride between the 16 V_k
	if (ntx%8 == 0 || ntx == 4) && W <= len(zeroRow) && haveSIMD() {
		V = V[:15*kst+c.Cin*T]
		for ci := 0; ci < c.Cin; ci++ {
			xc := x[ci*hw : (ci+1)*hw]
			var r [4]*float32
			for ty := r0 / 2; ty < r1/2; ty++ {
				for a := range r {
					r[a] = &zeroRow[0]
					if iy := 2*ty - 1 + a; iy >= 0 && iy < H {
						r[a] = &xc[iy*W]
					}
				}
				if ntx == 4 {
					bt4Tile4AVX(r[0], r[1], r[2], r[3], &V[ci*T+(ty-r0/2)*ntx], kst)
				} else {
					bt4TileAVX(r[0], r[1], r[2], r[3], ntx, &V[ci*T+(ty-r0/2)*ntx], kst)
				}
			}
		}
		return
	}
	// d[a·4+b][t] is element (a, b) of the 4×4 input patch of tile t:
	// input row 2ty−1+a, column 2tx−1+b; e holds d B.
	st := func(buf []float32, k int) []float32 { return buf[k*T : (k+1)*T] }
	for ci := 0; ci < c.Cin; ci++ {
		xc := x[ci*hw : (ci+1)*hw]
		for ty := r0 / 2; ty < r1/2; ty++ {
			t0 := (ty - r0/2) * ntx
			for a := 0; a < 4; a++ {
				d0 := sp[(a*4+0)*T+t0 : (a*4+0)*T+t0+ntx]
				d1 := sp[(a*4+1)*T+t0 : (a*4+1)*T+t0+ntx]
				d2 := sp[(a*4+2)*T+t0 : (a*4+2)*T+t0+ntx]
				d3 := sp[(a*4+3)*T+t0 : (a*4+3)*T+t0+ntx]
				iy := 2*ty - 1 + a
				if iy < 0 || iy >= H {
					clear(d0)
					clear(d1)
					clear(d2)
					clear(d3)
					continue
				}
				r := xc[iy*W : (iy+1)*W]
				deint(r, d1, d2)
				d0[0] = 0
				copy(d0[1:], d2[:ntx-1])
				copy(d3, d1[1:])
				d3[ntx-1] = 0
			}
		}
		if T%8 == 0 && haveSIMD() {
			// the two passes below with offset-addressed streams
			spp, epp := sp[:16*T], ep[:16*T]
			vc := V[ci*T : 15*kst+ci*T+T] // v(k) = V[k·kst + ci·T …]
			s, e, v := unsafe.Pointer(&spp[0]), unsafe.Pointer(&epp[0]), unsafe.Pointer(&vc[0])
			for a := 0; a < 4; a++ {
				bt4Vec(at(s, 4*a*T), at(s, (4*a+1)*T), at(s, (4*a+2)*T), at(s, (4*a+3)*T),
					at(e, 4*a*T), at(e, (4*a+1)*T), at(e, (4*a+2)*T), at(e, (4*a+3)*T), T)
			}
			for b := 0; b < 4; b++ {
				bt4Vec(at(e, b*T), at(e, (4+b)*T), at(e, (8+b)*T), at(e, (12+b)*T), at(v, b*kst), at(v, (4+b)*kst), at(v, (8+b)*kst), at(v, (12+b)*kst), T)
			}
			continue
		}
		for a := 0; a < 4; a++ {
			bt4(st(sp, 4*a), st(sp, 4*a+1), st(sp, 4*a+2), st(sp, 4*a+3), st(ep, 4*a), st(ep, 4*a+1), st(ep, 4*a+2), st(ep, 4*a+3))
		}
		v := func(k int) []float32 { return V[k*kst+ci*T : k*kst+(ci+1)*T] }
		for b := 0; b < 4; b++ {
			bt4(st(ep, b), st(ep, 4+b), st(ep, 8+b), st(ep, 12+b), v(b), v(4+b), v(8+b), v(12+b))
		}
	}
}

// winoStride is the distance between the Winograd GEMM operands V_k, M_k
// and D_k of a band, c·T floats plus one cache line: with c·T·4 bytes a
// multiple of 4 KiB (e.g. 32 channels × 64 tiles) the k streams that a
// transform kernel reads or writes side by side would otherwise fall into
// the same L1 set and evict each other.
func winoStride(c, T int) int { return c*T + 16 }

// zeroRow is the zero padding row of bt4TileAVX (read only); wider
// images use the Go passes.
var zeroRow [1024]float32

// Weight gradient. With U = G g Gᵀ and y = Aᵀ[U ⊙ V]A per tile,
// dL/dU_k = Σ_t (A dY_t Aᵀ)_k V_k,t (dY_t the 2×2 output gradient of tile
// t) and dL/dg = Gᵀ (dL/dU) G: 16 GEMMs D_k (Cout×T) · V_kᵀ (T×Cin) per
// band, accumulated per worker in gU and folded into the weight gradient
// after the pass (foldTask).

// winoGradBand adds the band's dL/dU into gU (16×Cout×Cin) and its bias
// gradient into the worker's accumulator.
func (c *Conv2D) winoGradBand(w, i, r0, r1 int, gU []float32) {
	H, W := c.H, c.W
	hw := H * W
	ntx := W / 2
	T := (r1 - r0) / 2 * ntx
	x := c.x[i*c.Cin*hw : (i+1)*c.Cin*hw]
	dy := c.dy[i*c.Cout*hw : (i+1)*c.Cout*hw]
	kst, dst := winoStride(c.Cin, T), winoStride(c.Cout, T)
	V := c.e.scratch(w, 0, 16*kst)
	D := c.e.scratch(w, 1, 16*dst)
	sp := c.e.scratch(w, 2, 16*T)
	ep := c.e.scratch(w, 3, 16*T)
	c.winoInputBand(x, V, sp, ep, r0, r1)
	c.winoGradDY(dy, D, sp, ep, r0, r1, T)
	// The bias gradient: D_5 = (dY00 + dY10) + (dY01 + dY11) is each
	// tile's sum, so the band's sum per channel reads T values instead of
	// the 4T pixels of dy (the same sum in another order).
	gb := c.gb.bufs[w]
	for o := range gb {
		gb[o] += sum8(D[5*dst+o*T : 5*dst+(o+1)*T])
	}
	g := c.e.gemm
	for k := 0; k < 16; k++ {
		g.Sgemm(false, true, c.Cout, c.Cin, T, 1, D[k*dst:], T, V[k*kst:], T, 1, gU[k*c.Cout*c.Cin:], c.Cin)
	}
}

// winoGradDY writes D_k = (A dY_t Aᵀ)_k for every output channel and
// tile of rows [r0, r1) of the output gradient dy of one image: with
// adyaAVX tile row by tile row when it can run, else winoGradDYGo (the
// same operations in the same order).
func (c *Conv2D) winoGradDY(dy, D, sp, ep []float32, r0, r1, T int) {
	W := c.W
	hw := c.H * W
	ntx := W / 2
	if ntx%8 != 0 || !haveSIMD() {
		c.winoGradDYGo(dy, D, sp, ep, r0, r1, T)
		return
	}
	dst := winoStride(c.Cout, T)
	for o := 0; o < c.Cout; o++ {
		dyo := dy[o*hw : (o+1)*hw]
		for ty := r0 / 2; ty < r1/2; ty++ {
			t0 := (ty - r0/2) * ntx
			_ = D[15*dst+o*T+t0+ntx-1] // the last stream's end
			_ = dyo[(2*ty+2)*W-1]
			adyaAVX(&dyo[2*ty*W], &dyo[(2*ty+1)*W], ntx, &D[o*T+t0], dst)
		}
	}
}

// winoGradDYGo writes D_k = (A dY_t Aᵀ)_k for every output channel and
// tile of rows [r0, r1) of the output gradient dy of one image, using sp
// and ep (16·T) as scratch.
func (c *Conv2D) winoGradDYGo(dy, D, sp, ep []float32, r0, r1, T int) {
	W := c.W
	hw := c.H * W
	ntx := W / 2
	st := func(buf []float32, k int) []float32 { return buf[k*T : (k+1)*T] }
	dst := winoStride(c.Cout, T)
	for o := 0; o < c.Cout; o++ {
		dyo := dy[o*hw : (o+1)*hw]
		// a_pq (stream p·2+q of sp) = dY_t[p][q]
		for ty := r0 / 2; ty < r1/2; ty++ {
			t0 := (ty - r0/2) * ntx
			deint(dyo[2*ty*W:(2*ty+1)*W], sp[t0:t0+ntx], sp[T+t0:T+t0+ntx])
			deint(dyo[(2*ty+1)*W:(2*ty+2)*W], sp[2*T+t0:2*T+t0+ntx], sp[3*T+t0:3*T+t0+ntx])
		}
		// rows of A dY: R_iq (stream i·2+q of ep)
		for q := 0; q < 2; q++ {
			a4(st(sp, q), st(sp, 2+q), st(ep, q), st(ep, 2+q), st(ep, 4+q), st(ep, 6+q))
		}
		// (A dY) Aᵀ: D_{i·4+j}
		d := func(k int) []float32 { return D[k*dst+o*T : k*dst+(o+1)*T] }
		for i := 0; i < 4; i++ {
			a4(st(ep, 2*i), st(ep, 2*i+1), d(4*i), d(4*i+1), d(4*i+2), d(4*i+3))
		}
	}
}

// a4 applies A (4×2, rows [1 0], [1 1], [1 −1], [0 −1]) to pairs:
// y0 = x0, y1 = x0 + x1, y2 = x0 − x1, y3 = −x1.
func a4(x0, x1, y0, y1, y2, y3 []float32) {
	n := len(x0)
	x1, y0, y1, y2, y3 = x1[:n], y0[:n], y1[:n], y2[:n], y3[:n]
	for j, a := range x0 {
		b := x1[j]
		y0[j], y1[j], y2[j], y3[j] = a, a+b, a-b, -b
	}
}

// winoFoldGrad adds Gᵀ (Σ_w gUs[w]) G into gw for the channel pairs
// p = o·Cin + ci in [p0, p1): the workers' dL/dU summed in worker order,
// then folded once.
func (c *Conv2D) winoFoldGrad(gUs [][]float32, gw []float32, p0, p1 int) {
	cc := c.Cout * c.Cin
	var S [16][foldBlock]float32 // runs of the 16 blocks (see wino4FoldGrad)
	for q0 := p0; q0 < p1; q0 += foldBlock {
		n := min(foldBlock, p1-q0)
		for k := range S {
			sk := S[k][:n]
			clear(sk)
			for _, gU := range gUs {
				for j, v := range gU[k*cc+q0 : k*cc+q0+n] {
					sk[j] += v
				}
			}
		}
		for j := 0; j < n; j++ {
			var X [4][4]float32
			for k := 0; k < 16; k++ {
				X[k/4][k%4] = S[k][j]
			}
			var Y [3][4]float32 // Gᵀ X
			for i := 0; i < 4; i++ {
				Y[0][i] = X[0][i] + 0.5*(X[1][i]+X[2][i])
				Y[1][i] = 0.5 * (X[1][i] - X[2][i])
				Y[2][i] = 0.5*(X[1][i]+X[2][i]) + X[3][i]
			}
			p := q0 + j
			g := gw[p*9 : p*9+9]
			for u := 0; u < 3; u++ {
				g[u*3+0] += Y[u][0] + 0.5*(Y[u][1]+Y[u][2])
				g[u*3+1] += 0.5 * (Y[u][1] - Y[u][2])
				g[u*3+2] += 0.5*(Y[u][1]+Y[u][2]) + Y[u][3]
			}
		}
	}
}

// foldBlock is the number of channel pairs a fold reads per run.
const foldBlock = 64

// foldChunk is the number of channel pairs of one fold task.
const foldChunk = 256

// foldTask folds the workers' Winograd weight gradients of the channel
// pairs of task t into Weight.Grad (Backward runs it in parallel after
// the pass; the weight gradient of a Winograd layer has no other terms).
func (c *Conv2D) foldTask(_, t int) {
	p0 := t * foldChunk
	p1 := min(c.Cout*c.Cin, p0+foldChunk)
	gUs := c.gU[:c.foldUsed]
	if c.wino4 {
		c.wino4FoldGrad(gUs, c.Weight.Grad, p0, p1)
		return
	}
	c.winoFoldGrad(gUs, c.Weight.Grad, p0, p1)
}
