package nn

import (
	"math"
	"testing"
)

// aT6 is the F(4×4) output transform Aᵀ (4×6) of winograd4.go; the weight
// gradient's dY transform applies its transpose A.
var aT6 = [4][6]float64{
	{1, 1, 1, 1, 1, 0},
	{0, 1, -1, 2, -2, 0},
	{0, 1, 1, 4, 4, 0},
	{0, 1, -1, 8, -8, 1},
}

// TestKernelPathsA6 runs a6 (y = A x lane-wise) on every kernel path, for
// lengths that take the vector kernel only, the scalar tail only and both,
// against A x in float64 (within float32 rounding of the magnitudes); the
// paths must agree bit for bit.
func TestKernelPathsA6(t *testing.T) {
	rng := NewRand(61)
	for _, n := range []int{8, 5, 37, 64, 40} {
		x := make([][]float32, 4)
		for m := range x {
			x[m] = randVec(rng, n, 1)
		}
		x[1][2] = 0 // signed zeros through the copies and sums
		var ref [][]float32
		for _, path := range KernelPaths() {
			withKernelPath(t, path, func(t *testing.T) {
				y := make([][]float32, 6)
				for k := range y {
					y[k] = make([]float32, n+3)
					for j := range y[k] {
						y[k][j] = -7
					}
				}
				a6(x[0], x[1], x[2], x[3], y[0][:n], y[1][:n], y[2][:n], y[3][:n], y[4][:n], y[5][:n])
				for k := 0; k < 6; k++ {
					for j := 0; j < n; j++ {
						want, mag := 0.0, 0.0
						for m := 0; m < 4; m++ {
							want += aT6[m][k] * float64(x[m][j])
							mag += math.Abs(aT6[m][k] * float64(x[m][j]))
						}
						if d := math.Abs(float64(y[k][j]) - want); d > 3*0x1p-24*mag {
							t.Fatalf("%s n=%d: y%d[%d] = %g, float64 %g", path, n, k, j, y[k][j], want)
						}
					}
					for j := n; j < n+3; j++ {
						if y[k][j] != -7 {
							t.Fatalf("%s n=%d: wrote y%d[%d] beyond n", path, n, k, j)
						}
					}
				}
				if ref == nil {
					ref = y
					return
				}
				for k := range y {
					for j := range y[k] {
						if math.Float32bits(y[k][j]) != math.Float32bits(ref[k][j]) {
							t.Fatalf("%s n=%d: y%d[%d] = %g differs from the %s path's %g", path, n, k, j, y[k][j], KernelPaths()[0], ref[k][j])
						}
					}
				}
			})
		}
	}
}

// TestKernelPathsWino4GradDY checks the F(4×4) weight gradient's dY
// transform of a band (wino4GradDY: D_k = (A dY_t Aᵀ)_k per output channel
// and tile) on every kernel path against the definition in float64, for
// widths whose tile rows take ady4TileAVX (W = 32; W = 64, 128 on the
// avx2 path) or ady4TileAVX512 (W = 64, 128 on the avx512 path) or the Go
// passes (W = 20), bands at the top, inside and at the bottom of the
// image; the paths agree bit for bit and nothing between the streams is
// written.
func TestKernelPathsWino4GradDY(t *testing.T) {
	e := testEngine(1)
	defer e.Close()
	for _, W := range []int{32, 64, 20, 128} {
		const H, cout = 12, 3
		c := NewConv2D(e, "c", 16, 16, H, W, 3, 1, 1) // geometry only
		c.Cout = cout
		rng := NewRand(uint64(70 + W))
		dy := randVec(rng, cout*H*W, 1)
		ntx := W / 4
		for _, band := range [][2]int{{0, 4}, {4, 8}, {8, 12}, {0, 12}} {
			r0, r1 := band[0], band[1]
			T := (r1 - r0) / 4 * ntx
			dst := winoStride(cout, T)
			var ref []float32
			for _, path := range KernelPaths() {
				withKernelPath(t, path, func(t *testing.T) {
					D := make([]float32, 36*dst)
					for i := range D {
						D[i] = -7
					}
					c.wino4GradDY(dy, D, make([]float32, 40*T), r0, r1, T)
					for k := 0; k < 36; k++ {
						for i := k*dst + cout*T; i < (k+1)*dst; i++ {
							if D[i] != -7 {
								t.Fatalf("%s W=%d: wrote D[%d] between the streams", path, W, i)
							}
						}
					}
					for o := 0; o < cout; o++ {
						for tt := 0; tt < T; tt++ {
							ty, tx := r0/4+tt/ntx, tt%ntx
							for i := 0; i < 6; i++ {
								for j := 0; j < 6; j++ {
									want, mag := 0.0, 0.0
									for p := 0; p < 4; p++ {
										for q := 0; q < 4; q++ {
											v := aT6[p][i] * float64(dy[(o*H+4*ty+p)*W+4*tx+q]) * aT6[q][j]
											want += v
											mag += math.Abs(v)
										}
									}
									got := D[(6*i+j)*dst+o*T+tt]
									if d := math.Abs(float64(got) - want); d > 6*0x1p-24*mag {
										t.Fatalf("%s W=%d rows [%d,%d): D_%d[%d][%d] = %g, float64 %g", path, W, r0, r1, 6*i+j, o, tt, got, want)
									}
								}
							}
						}
					}
					if ref == nil {
						ref = D
						return
					}
					for i := range D {
						if math.Float32bits(D[i]) != math.Float32bits(ref[i]) {
							t.Fatalf("%s W=%d rows [%d,%d): D[%d] = %g differs from the %s path's %g", path, W, r0, r1, i, D[i], KernelPaths()[0], ref[i])
						}
					}
				})
			}
		}
	}
}

// TestWino4FoldGrad checks the fold Gᵀ (Σ_w X_w) G of the F(4×4) weight
// gradient against the float64 product with G written out, for two
// workers' buffers and a range of channel pairs, and that it adds to the
// gradient already there and touches no other pair.
func TestWino4FoldGrad(t *testing.T) {
	G := [6][3]float64{
		{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1},
	}
	e := testEngine(2)
	defer e.Close()
	c := NewConv2D(e, "c", 16, 12, 32, 32, 3, 1, 1)
	if !c.wino4 || len(c.gU) != 2 || len(c.gU[0]) != 36*12*16 {
		t.Fatalf("32² layer: wino4 %v, gU %d × %d", c.wino4, len(c.gU), len(c.gU[0]))
	}
	rng := NewRand(81)
	cc := c.Cout * c.Cin
	gUs := [][]float32{randVec(rng, 36*cc, 1), randVec(rng, 36*cc, 1)}
	gw := randVec(rng, 9*cc, 1)
	gw0 := append([]float32(nil), gw...)
	const p0, p1 = 5, 150
	c.wino4FoldGrad(gUs, gw, p0, p1)
	for p := 0; p < cc; p++ {
		for u := 0; u < 3; u++ {
			for v := 0; v < 3; v++ {
				want := float64(gw0[p*9+u*3+v])
				for a := 0; a < 6 && p >= p0 && p < p1; a++ {
					for b := 0; b < 6; b++ {
						x := float64(gUs[0][(6*a+b)*cc+p]) + float64(gUs[1][(6*a+b)*cc+p])
						want += G[a][u] * x * G[b][v]
					}
				}
				if got := gw[p*9+u*3+v]; math.Abs(float64(got)-want) > 1e-6*(1+math.Abs(want)) {
					t.Fatalf("pair %d: g[%d][%d] = %g, float64 %g", p, u, v, got, want)
				}
			}
		}
	}
}
