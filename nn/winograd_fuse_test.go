package nn

import (
	"math"
	"testing"
)

// TestKernelPathsWinoInput runs the F(2×2) input transform of a band
// (winoInputBand) on every kernel path, for widths whose tile rows take
// bt4TileAVX (ntx = 8, 16, 24) or bt4Tile4AVX (ntx = 4) and one that takes the
// Go passes (ntx = 5),
// with bands at the top, inside and at the bottom of the image, against
// Bᵀ d B evaluated in float64 from the definition; the paths must agree
// bit for bit (same operations in the same order), and the parts of V
// outside the band's tiles must stay untouched.
func TestKernelPathsWinoInput(t *testing.T) {
	bt := [4][4]float64{{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}
	e := testEngine(1)
	defer e.Close()
	for _, W := range []int{16, 32, 48, 8, 10} {
		const H, cin = 12, 3
		c := NewConv2D(e, "c", 16, 16, H, W, 3, 1, 1) // geometry only
		c.Cin = cin
		rng := NewRand(uint64(W))
		x := randVec(rng, cin*H*W, 1)
		ntx := W / 2
		for _, band := range [][2]int{{0, 4}, {4, 8}, {8, 12}, {0, 12}} {
			r0, r1 := band[0], band[1]
			T := (r1 - r0) / 2 * ntx
			var ref []float32
			for _, path := range KernelPaths() {
				withKernelPath(t, path, func(t *testing.T) {
					kst := winoStride(cin, T)
					V := make([]float32, 16*kst)
					for i := range V {
						V[i] = -7
					}
					sp, ep := make([]float32, 16*T), make([]float32, 16*T)
					c.winoInputBand(x, V, sp, ep, r0, r1)
					for k := 0; k < 16; k++ {
						for i := k*kst + cin*T; i < (k+1)*kst; i++ {
							if V[i] != -7 {
								t.Fatalf("%s W=%d: wrote V[%d] between the streams", path, W, i)
							}
						}
					}
					for ci := 0; ci < cin; ci++ {
						for tt := 0; tt < T; tt++ {
							ty, tx := r0/2+tt/ntx, tt%ntx
							var d [4][4]float64
							for a := 0; a < 4; a++ {
								for b := 0; b < 4; b++ {
									iy, ix := 2*ty-1+a, 2*tx-1+b
									if iy >= 0 && iy < H && ix >= 0 && ix < W {
										d[a][b] = float64(x[(ci*H+iy)*W+ix])
									}
								}
							}
							for k := 0; k < 4; k++ {
								for l := 0; l < 4; l++ {
									want, mag := 0.0, 0.0
									for a := 0; a < 4; a++ {
										for b := 0; b < 4; b++ {
											want += bt[k][a] * d[a][b] * bt[l][b]
											mag += math.Abs(bt[k][a] * d[a][b] * bt[l][b])
										}
									}
									got := V[(4*k+l)*kst+ci*T+tt]
									if diff := math.Abs(float64(got) - want); diff > 3*0x1p-24*mag {
										t.Fatalf("%s W=%d rows [%d,%d): V_%d[%d][%d] = %g, float64 %g", path, W, r0, r1, 4*k+l, ci, tt, got, want)
									}
								}
							}
						}
					}
					if ref == nil {
						ref = V
						return
					}
					for i := range V {
						if V[i] != ref[i] {
							t.Fatalf("%s W=%d rows [%d,%d): V[%d] = %g differs from the %s path's %g", path, W, r0, r1, i, V[i], KernelPaths()[0], ref[i])
						}
					}
				})
			}
		}
	}
}

// TestKernelPathsBt6Tile checks bt6TileVec (bt6TileAVX, and
// bt6TileAVX512 for ntx = 16, 32, 48 on the avx512 path), the F(4×4)
// input transform of a row of tiles, against bt6RowAVX followed by bt6 (bit for bit) and
// against Bᵀ d B in float64, with zero rows above and below, on every
// vector path, and that it writes nothing outside its streams.
func TestKernelPathsBt6Tile(t *testing.T) {
	if !haveSIMD() {
		t.Skip("no AVX2+FMA")
	}
	bt := [6][6]float64{
		{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
	}
	rng := NewRand(44)
	for _, path := range KernelPaths() {
		if path == "purego" {
			continue
		}
		withKernelPath(t, path, func(t *testing.T) {
			for _, ntx := range []int{8, 16, 24, 32, 48} {
				for _, edge := range []int{0, 1, 2} { // zero rows: none, first, last two
					W := 4 * ntx
					data := make([][]float32, 6)
					var rows [6]*float32
					for a := range data {
						data[a] = randVec(rng, W, 1)
						if (edge == 1 && a == 0) || (edge == 2 && a >= 4) {
							data[a] = make([]float32, W)
							rows[a] = &zeroRow[0]
							continue
						}
						rows[a] = &data[a][0]
					}
					// reference: bt6RowAVX per row into sp, then bt6 per column
					sp := make([]float32, 36*ntx)
					for a := range data {
						bt6RowAVX(&data[a][0], ntx, &sp[6*a*ntx], ntx)
					}
					want := make([]float32, 36*ntx)
					st := func(b []float32, k int) []float32 { return b[k*ntx : (k+1)*ntx] }
					for b := 0; b < 6; b++ {
						bt6(st(sp, b), st(sp, 6+b), st(sp, 12+b), st(sp, 18+b), st(sp, 24+b), st(sp, 30+b),
							st(want, b), st(want, 6+b), st(want, 12+b), st(want, 18+b), st(want, 24+b), st(want, 30+b))
					}
					vs := ntx + 5 // stream stride with gaps
					v := make([]float32, 35*vs+ntx+3)
					for i := range v {
						v[i] = -7
					}
					bt6TileVec(&rows, ntx, &v[0], vs, make([]float32, 576))
					for k := 0; k < 36; k++ {
						for tt := 0; tt < ntx; tt++ {
							if got := v[k*vs+tt]; got != want[k*ntx+tt] {
								t.Fatalf("%s ntx=%d edge=%d: v%d[%d] = %g, want %g", path, ntx, edge, k, tt, got, want[k*ntx+tt])
							}
							// float64: (Bᵀ d B)[a][b] with d[m][l] = x_m[4t − 1 + l]
							a, b := k/6, k%6
							ref, mag := 0.0, 0.0
							for m := 0; m < 6; m++ {
								for l := 0; l < 6; l++ {
									col := 4*tt - 1 + l
									if col < 0 || col >= W {
										continue
									}
									p := bt[a][m] * float64(data[m][col]) * bt[b][l]
									ref += p
									mag += math.Abs(p)
								}
							}
							if d := math.Abs(float64(want[k*ntx+tt]) - ref); d > 8*0x1p-24*mag {
								t.Fatalf("%s ntx=%d: v%d[%d] = %g, float64 %g", path, ntx, k, tt, want[k*ntx+tt], ref)
							}
						}
						if k < 35 {
							for j := ntx; j < vs; j++ {
								if v[k*vs+j] != -7 {
									t.Fatalf("%s ntx=%d: wrote v%d[%d] between streams", path, ntx, k, j)
								}
							}
						}
					}
				}
			}
		})
	}
}

// TestKernelPathsAt6Tile checks at6TileVec (at6TileAVX, and
// at6TileAVX512 for ntx = 16, 32, 48 on the avx512 path), the F(4×4)
// output transform of a row of tiles, against the separate passes it fuses (at6 twice,
// inter4 with the bias, addScale: bit for bit, with and without the
// residual) and against Aᵀ m A + bias in float64, on every vector path,
// and that it writes nothing outside its four rows of 4·ntx.
func TestKernelPathsAt6Tile(t *testing.T) {
	if !haveSIMD() {
		t.Skip("no AVX2+FMA")
	}
	atm := [4][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
	rng := NewRand(45)
	for _, path := range KernelPaths() {
		if path == "purego" {
			continue
		}
		withKernelPath(t, path, func(t *testing.T) {
			for _, ntx := range []int{8, 16, 24, 32, 48} {
				ms := 2*ntx + 16 // streams further apart than a row of tiles
				m := randVec(rng, 36*ms, 1)
				W := 4*ntx + 4 // y rows with a gap
				s := randVec(rng, 4*W, 1)
				const bias, k = float32(0.25), float32(0.7071067811865476)
				ep := make([]float32, 24*ntx)
				st := func(b []float32, i, stride int) []float32 { return b[i*stride : i*stride+ntx] }
				for b := 0; b < 6; b++ {
					at6(st(m, b, ms), st(m, 6+b, ms), st(m, 12+b, ms), st(m, 18+b, ms), st(m, 24+b, ms), st(m, 30+b, ms),
						st(ep, b, ntx), st(ep, 6+b, ntx), st(ep, 12+b, ntx), st(ep, 18+b, ntx))
				}
				for _, res := range []bool{false, true} {
					want := make([]float32, 4*W)
					got := make([]float32, 4*W)
					for i := range got {
						want[i], got[i] = -7, -7
					}
					var sp *float32
					if res {
						sp = &s[0]
					}
					for r := 0; r < 4; r++ {
						z := make([][]float32, 4)
						for j := range z {
							z[j] = make([]float32, ntx)
						}
						at6(st(ep, 6*r, ntx), st(ep, 6*r+1, ntx), st(ep, 6*r+2, ntx), st(ep, 6*r+3, ntx), st(ep, 6*r+4, ntx), st(ep, 6*r+5, ntx),
							z[0], z[1], z[2], z[3])
						inter4(z[0], z[1], z[2], z[3], want[r*W:r*W+4*ntx], bias)
						if res {
							addScale(want[r*W:r*W+4*ntx], s[r*W:r*W+4*ntx], k)
						}
					}
					at6TileVec(&m[0], ms, ntx, &got[0], W, bias, sp, k, make([]float32, 384))
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s ntx=%d residual %v: y[%d][%d] = %g, want %g", path, ntx, res, i/W, i%W, got[i], want[i])
						}
					}
					if res {
						continue
					}
					for r := 0; r < 4; r++ {
						for tt := 0; tt < ntx; tt++ {
							for j := 0; j < 4; j++ {
								ref, mag := float64(bias), math.Abs(float64(bias))
								for a := 0; a < 6; a++ {
									for b := 0; b < 6; b++ {
										p := atm[r][a] * float64(m[(6*a+b)*ms+tt]) * atm[j][b]
										ref += p
										mag += math.Abs(p)
									}
								}
								if d := math.Abs(float64(got[r*W+4*tt+j]) - ref); d > 8*0x1p-24*mag {
									t.Fatalf("%s ntx=%d: y[%d][%d] = %g, float64 %g", path, ntx, r, 4*tt+j, got[r*W+4*tt+j], ref)
								}
							}
						}
					}
				}
			}
		})
	}
}
