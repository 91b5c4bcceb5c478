package nn

import (
	"fmt"
	"math"
	"testing"
)

// wino4Tol bounds |y − y_ref| / max|y_ref| for F(4×4, 3×3) in float32,
// with y_ref the float64 direct convolution. Bᵀ and Aᵀ scale the data by
// up to 5 and 8 and G the weights by fractions down to 1/24, so rounding
// errors are larger than with direct convolution: measured errors on the
// shapes below are 9e-7…2.3e-6 (F(2×2): 1e-7), so 5e-6
// leaves 2× margin, while a dropped or wrong term of Bᵀ, G or Aᵀ gives
// errors of order 1e-3 (a 1/24 → 1/25 slip) to 1.
const wino4Tol = 5e-6

// relErr returns max |got − want| / max |want|.
func relErr(got []float32, want []float64) float64 {
	var scale, d float64
	for i, v := range want {
		scale = max(scale, math.Abs(v))
		d = max(d, math.Abs(float64(got[i])-v))
	}
	return d / scale
}

// refConvExtra is refConv plus Extra (n×Cout) added per image and channel.
func refConvExtra(x, wt, b, extra []float32, n, cin, cout, h, w int) []float64 {
	y, _, _ := refConv(x, wt, b, n, cin, cout, h, w, 3, 1, 1)
	for i := 0; i < n; i++ {
		for o := 0; o < cout; o++ {
			for j := 0; j < h*w; j++ {
				y[(i*cout+o)*h*w+j] += float64(extra[i*cout+o])
			}
		}
	}
	return y
}

type wino4Case struct{ cin, cout, h, w, n int }

func (tc wino4Case) String() string {
	return fmt.Sprintf("%d->%d_%dx%d_n%d", tc.cin, tc.cout, tc.h, tc.w, tc.n)
}

var wino4Cases = []wino4Case{
	{16, 8, 8, 8, 2}, {24, 16, 16, 12, 3}, {16, 20, 12, 20, 2}, {32, 32, 32, 32, 2}, {16, 5, 64, 64, 1}, {17, 16, 4, 8, 3},
}

// TestWinograd4Forward checks the F(4×4) forward (with bias and Extra)
// against the float64 direct convolution, for several shapes, band heights
// (default, one tile row, an odd request rounded up to 8 rows) and worker
// counts, and that the output does not depend on the worker count.
func TestWinograd4Forward(t *testing.T) {
	for _, tc := range wino4Cases {
		var first []float32
		for _, workers := range []int{1, 3} {
			e := testEngine(workers)
			c := NewConv2D(e, "c", tc.cin, tc.cout, tc.h, tc.w, 3, 1, 1)
			c.setWino4(true)
			if !c.wino4 || len(c.wU) != 36*tc.cin*tc.cout {
				t.Fatalf("%v: F(4×4) not selected by setWino4", tc)
			}
			r := NewRand(uint64(tc.cin*1000 + tc.h))
			c.Init(1, r)
			randomizeParams([]*Param{c.Bias}, r, 1)
			x := randVec(r, tc.n*tc.cin*tc.h*tc.w, 1)
			extra := randVec(r, tc.n*tc.cout, 1)
			want := refConvExtra(x, c.Weight.Data, c.Bias.Data, extra, tc.n, tc.cin, tc.cout, tc.h, tc.w)
			for _, rows := range []int{0, 4, 5} {
				if rows > 0 {
					c.setTileRows(rows)
					if c.tileRows%4 != 0 {
						t.Fatalf("%v: band of %d rows, not whole 4×4 tiles", tc, c.tileRows)
					}
				}
				c.Extra = extra
				y := c.Forward(x, tc.n)
				err := relErr(y, want)
				t.Logf("%v workers=%d rows=%d bands=%d: rel. error %.2g", tc, workers, c.tileRows, c.nb, err)
				if err > wino4Tol {
					t.Fatalf("%v workers=%d rows=%d: rel. error %g > %g", tc, workers, c.tileRows, err, wino4Tol)
				}
				if rows == 0 {
					if first == nil {
						first = append([]float32(nil), y...)
					} else {
						for j := range y {
							if y[j] != first[j] {
								t.Fatalf("%v: y[%d] = %g with %d workers, %g with 1", tc, j, y[j], workers, first[j])
							}
						}
					}
				}
			}
			e.Close()
		}
	}
}

// TestWinograd4Backward checks dx (the F(4×4) forward of the transposed
// convolution) against the float64 convolution of dy with the flipped,
// transposed kernel, and the weight and bias gradients (F(4×4) adjoint)
// against the im2col path, in training mode.
func TestWinograd4Backward(t *testing.T) {
	e := testEngine(2)
	defer e.Close()
	for _, tc := range []wino4Case{{16, 24, 16, 16, 2}, {20, 16, 32, 32, 1}} {
		run := func(wino bool) (dx, dw, db []float32, c *Conv2D) {
			c = NewConv2D(e, "c", tc.cin, tc.cout, tc.h, tc.w, 3, 1, 1)
			r := NewRand(7)
			randomizeParams(c.Params(), r, 0.3)
			if wino {
				c.setWino4(true)
				if !c.wino4 || !c.tconv.wino4 {
					t.Fatalf("%v: F(4×4) not selected for forward and dx", tc)
				}
				c.setTileRows(4)
			} else {
				c.wU, c.tconv.wU = nil, nil
			}
			x := randVec(r, tc.n*tc.cin*tc.h*tc.w, 1)
			c.Forward(x, tc.n)
			dy := randVec(r, tc.n*tc.cout*tc.h*tc.w, 1)
			dx = append([]float32(nil), c.Backward(dy)...)
			if wino {
				wf := make([]float32, len(c.Weight.Data))
				for o := 0; o < tc.cout; o++ {
					for ci := 0; ci < tc.cin; ci++ {
						for k := 0; k < 9; k++ {
							wf[(ci*tc.cout+o)*9+k] = c.Weight.Data[(o*tc.cin+ci)*9+8-k]
						}
					}
				}
				want, _, _ := refConv(dy, wf, make([]float32, tc.cin), tc.n, tc.cout, tc.cin, tc.h, tc.w, 3, 1, 1)
				err := relErr(dx, want)
				t.Logf("%v: dx rel. error %.2g", tc, err)
				if err > wino4Tol {
					t.Fatalf("%v: dx rel. error %g > %g", tc, err, wino4Tol)
				}
			}
			return dx, c.Weight.Grad, c.Bias.Grad, c
		}
		_, dw1, db1, _ := run(true)
		_, dw0, db0, _ := run(false)
		f64 := func(v []float32) []float64 {
			out := make([]float64, len(v))
			for i, x := range v {
				out[i] = float64(x)
			}
			return out
		}
		maxRelDiff(t, "F(4×4) conv dW", dw1, f64(dw0), 1e-5)
		maxRelDiff(t, "F(4×4) conv db", db1, f64(db0), 1e-5)
	}
}

// TestWinograd4Selection checks which shapes run F(4×4): sizes multiple of
// 4 with at least wino4MinPixels pixels, for the forward and for dx.
func TestWinograd4Selection(t *testing.T) {
	e := testEngine(1)
	defer e.Close()
	for _, tc := range []struct {
		cin, cout, h, w int
		fwd, dx         bool
	}{
		{32, 32, 64, 64, true, true}, {96, 32, 64, 64, true, true}, {64, 64, 32, 32, true, true},
		{64, 64, 16, 16, false, false}, {64, 64, 8, 8, false, false}, {1, 32, 64, 64, false, true},
		{32, 3, 64, 64, true, false}, {32, 32, 34, 34, false, false},
	} {
		c := NewConv2D(e, "c", tc.cin, tc.cout, tc.h, tc.w, 3, 1, 1)
		if c.wino4 != tc.fwd || (c.tconv.wU != nil && c.tconv.wino4) != tc.dx {
			t.Errorf("%+v: F(4×4) forward %v, dx %v", tc, c.wino4, c.tconv.wU != nil && c.tconv.wino4)
		}
		if (tc.fwd || tc.dx) && c.tileRows%4 != 0 {
			t.Errorf("%+v: band of %d rows", tc, c.tileRows)
		}
		if tc.fwd && len(c.wU) != 36*tc.cin*tc.cout {
			t.Errorf("%+v: wU has %d values", tc, len(c.wU))
		}
	}
}

// TestWinograd4Inference checks that the inference-mode forward (cached
// wU) equals the training-mode one bit for bit, follows weight changes
// after SetInference(true), and does not allocate.
func TestWinograd4Inference(t *testing.T) {
	e := testEngine(2)
	defer e.Close()
	const n = 2
	c := NewConv2D(e, "c", 32, 16, 32, 32, 3, 1, 1)
	if !c.wino4 {
		t.Fatal("F(4×4) not selected for a 32×32 convolution")
	}
	r := NewRand(5)
	randomizeParams(c.Params(), r, 0.2)
	x := randVec(r, n*32*32*32, 1)
	want := append([]float32(nil), c.Forward(x, n)...)
	e.SetInference(true)
	defer e.SetInference(false)
	for k := 0; k < 2; k++ {
		y := c.Forward(x, n)
		for j := range y {
			if y[j] != want[j] {
				t.Fatalf("pass %d: inference y[%d] = %g, training %g", k, j, y[j], want[j])
			}
		}
	}
	c.Weight.Data[0] += 1
	e.SetInference(true)
	ref, _, _ := refConv(x, c.Weight.Data, c.Bias.Data, n, 32, 16, 32, 32, 3, 1, 1)
	if err := relErr(c.Forward(x, n), ref); err > wino4Tol {
		t.Fatalf("after a weight change: rel. error %g", err)
	}
	if a := testing.AllocsPerRun(5, func() { c.Forward(x, n) }); a != 0 {
		t.Errorf("inference Forward: %v allocations, want 0", a)
	}
}

// TestWinograd4Kernels checks bt6, at6 (vector part and tail), deint4 and
// inter4 against the matrices of winograd4.go applied in float64.
func TestWinograd4Kernels(t *testing.T) {
	bt := [6][6]float64{
		{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
	}
	at := [4][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
	rng := NewRand(8)
	for _, n := range []int{1, 8, 13, 32, 43} {
		var x [6][]float32
		for m := range x {
			x[m] = randVec(rng, n, 1)
		}
		var y [6][]float32
		for k := range y {
			y[k] = make([]float32, n)
		}
		bt6(x[0], x[1], x[2], x[3], x[4], x[5], y[0], y[1], y[2], y[3], y[4], y[5])
		for k := 0; k < 6; k++ {
			for j := 0; j < n; j++ {
				var s, a float64
				for m := 0; m < 6; m++ {
					s += bt[k][m] * float64(x[m][j])
					a += math.Abs(bt[k][m] * float64(x[m][j]))
				}
				if math.Abs(float64(y[k][j])-s) > 1e-6*a {
					t.Fatalf("n=%d: bt6 y%d[%d] = %g, want %g", n, k, j, y[k][j], s)
				}
			}
		}
		at6(x[0], x[1], x[2], x[3], x[4], x[5], y[0], y[1], y[2], y[3])
		for k := 0; k < 4; k++ {
			for j := 0; j < n; j++ {
				var s, a float64
				for m := 0; m < 6; m++ {
					s += at[k][m] * float64(x[m][j])
					a += math.Abs(at[k][m] * float64(x[m][j]))
				}
				if math.Abs(float64(y[k][j])-s) > 1e-6*a {
					t.Fatalf("n=%d: at6 y%d[%d] = %g, want %g", n, k, j, y[k][j], s)
				}
			}
		}
		row := randVec(rng, 4*n, 1)
		deint4(row, y[0], y[1], y[2], y[3])
		out := make([]float32, 4*n)
		inter4(y[0], y[1], y[2], y[3], out, 0.5)
		for j := 0; j < 4*n; j++ {
			if y[j%4][j/4] != row[j] || out[j] != row[j]+0.5 {
				t.Fatalf("n=%d: deint4/inter4 at %d: %g, %g from %g", n, j, y[j%4][j/4], out[j], row[j])
			}
		}
	}
}

// TestWinograd4Weights checks the F(4×4) and F(2×2) weight transforms
// U = G g Gᵀ against float64 products with G written out, for input
// channel counts below and above one buffered block (foldBlock).
func TestWinograd4Weights(t *testing.T) {
	G4 := [][]float64{{0.25, 0, 0}, {-1. / 6, -1. / 6, -1. / 6}, {-1. / 6, 1. / 6, -1. / 6},
		{1. / 24, 1. / 12, 1. / 6}, {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}}
	G2 := [][]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	e := testEngine(1)
	defer e.Close()
	for _, tc := range []struct{ cin, cout, hw int }{{16, 3, 32}, {70, 5, 32}, {16, 3, 16}, {70, 5, 16}} {
		c := NewConv2D(e, "c", tc.cin, tc.cout, tc.hw, tc.hw, 3, 1, 1)
		G := G2
		if c.wino4 {
			G = G4
		}
		randomizeParams(c.Params(), NewRand(3), 1)
		c.winoWeights()
		cc := c.Cout * c.Cin
		m := len(G)
		for p := 0; p < cc; p++ {
			g := c.Weight.Data[p*9 : p*9+9]
			for a := 0; a < m; a++ {
				for b := 0; b < m; b++ {
					var s float64
					for u := 0; u < 3; u++ {
						for v := 0; v < 3; v++ {
							s += G[a][u] * float64(g[u*3+v]) * G[b][v]
						}
					}
					if got := float64(c.wU[(a*m+b)*cc+p]); math.Abs(got-s) > 1e-7*(1+math.Abs(s)) {
						t.Fatalf("%d→%d at %d²: U[%d][%d] of pair %d = %g, want %g", tc.cin, tc.cout, tc.hw, a, b, p, got, s)
					}
				}
			}
		}
	}
}

// BenchmarkWinograd compares the F(2×2) and F(4×4) forwards of the
// default score network's 3×3 convolutions at batch 1 and 8 with the
// default Gemm back-end (the basis of wino4MinPixels).
func BenchmarkWinograd(b *testing.B) {
	g := benchGemm(b)
	for _, tc := range []struct{ cin, cout, hw int }{{32, 32, 64}, {96, 32, 64}, {64, 64, 32}, {128, 64, 32}, {64, 64, 16}, {64, 64, 8}} {
		for _, n := range []int{1, 8} {
			for _, f4 := range []bool{false, true} {
				name := fmt.Sprintf("%dx%d_%d->%d_n%d_F%d", tc.hw, tc.hw, tc.cin, tc.cout, n, map[bool]int{false: 2, true: 4}[f4])
				b.Run(name, func(b *testing.B) {
					e := NewEngine(g, 0)
					defer e.Close()
					c := NewConv2D(e, "c", tc.cin, tc.cout, tc.hw, tc.hw, 3, 1, 1)
					c.setWino4(f4)
					c.Init(1, NewRand(1))
					x := randVec(NewRand(2), n*tc.cin*tc.hw*tc.hw, 1)
					e.SetInference(true)
					c.Forward(x, n)
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						c.Forward(x, n)
					}
					b.ReportMetric(float64(c.Flops())*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// TestGradWinograd4 checks dx, dW and db of convolutions whose forward
// and dx run F(4×4) against finite differences of the F(4×4) forward.
func TestGradWinograd4(t *testing.T) {
	rng := NewRand(12)
	e := testEngine(2)
	defer e.Close()
	for _, tc := range []wino4Case{{16, 16, 8, 8, 2}, {16, 20, 8, 12, 1}} {
		c := NewConv2D(e, "conv", tc.cin, tc.cout, tc.h, tc.w, 3, 1, 1)
		c.setWino4(true)
		c.setTileRows(4)
		if !c.wino4 || !c.tconv.wino4 || c.nb != tc.h/4 {
			t.Fatalf("%v: F(4×4) forward %v, dx %v, %d bands", tc, c.wino4, c.tconv.wino4, c.nb)
		}
		randomizeParams(c.Params(), rng, 0.3)
		checkLayer(t, "conv F(4×4)", c, tc.cin*tc.h*tc.w, tc.n, rng)
	}
}

// TestBt6Row checks the fused row transform against deint4 + bt6 on padded
// streams, bit for bit, including the edge tiles whose neighbours are the
// zero padding and the lanes that cross blocks of 8 tiles.
func TestBt6Row(t *testing.T) {
	if !haveSIMD() {
		t.Skip("no AVX2+FMA")
	}
	rng := NewRand(21)
	for _, ntx := range []int{8, 16, 24} {
		row := randVec(rng, 4*ntx, 1)
		q := make([][]float32, 4)
		for m := range q {
			q[m] = make([]float32, ntx)
		}
		deint4(row, q[0], q[1], q[2], q[3])
		left := append([]float32{0}, q[3][:ntx-1]...) // x[4t−1]
		right := append(append([]float32(nil), q[0][1:]...), 0)
		want := make([][]float32, 6)
		for b := range want {
			want[b] = make([]float32, ntx)
		}
		bt6(left, q[0], q[1], q[2], q[3], right, want[0], want[1], want[2], want[3], want[4], want[5])
		const ys = 40 // stream stride larger than ntx: gaps must stay untouched
		got := make([]float32, 5*ys+ntx+3)
		for i := range got {
			got[i] = -7
		}
		bt6RowAVX(&row[0], ntx, &got[0], ys)
		for b := 0; b < 6; b++ {
			for j := 0; j < ntx; j++ {
				if got[b*ys+j] != want[b][j] {
					t.Fatalf("ntx=%d: y%d[%d] = %g, want %g", ntx, b, j, got[b*ys+j], want[b][j])
				}
			}
			if b < 5 {
				for j := ntx; j < ys; j++ {
					if got[b*ys+j] != -7 {
						t.Fatalf("ntx=%d: wrote y%d[%d] beyond the row", ntx, b, j)
					}
				}
			}
		}
	}
}

// TestWeightsFixed checks that with Engine.SetWeightsFixed(true) the
// training-mode Forward and Backward of Winograd convolutions (F(4×4) at
// 32×32, F(2×2) at 8×8) give the same output and input gradient bit for
// bit, keep their weight transforms from one call to the next (a weight
// change is ignored until the next SetWeightsFixed call, which is the
// contract) and do not allocate.
func TestWeightsFixed(t *testing.T) {
	e := testEngine(2)
	defer e.Close()
	const n = 2
	for _, side := range []int{32, 8} {
		c := NewConv2D(e, "c", 16, 24, side, side, 3, 1, 1)
		if c.wU == nil || c.tconv.wU == nil {
			t.Fatalf("%d²: Winograd not selected", side)
		}
		r := NewRand(uint64(side))
		randomizeParams(c.Params(), r, 0.2)
		x := randVec(r, n*16*side*side, 1)
		dy := randVec(r, n*24*side*side, 1)
		run := func() (y, dx []float32) {
			y = append([]float32(nil), c.Forward(x, n)...)
			return y, append([]float32(nil), c.Backward(dy)...)
		}
		same := func(what string, a, b []float32) {
			t.Helper()
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("%d²: %s[%d] = %g, want %g", side, what, i, a[i], b[i])
				}
			}
		}
		y0, dx0 := run()
		e.SetWeightsFixed(true)
		for k := 0; k < 2; k++ {
			y, dx := run()
			same("fixed-weights y", y, y0)
			same("fixed-weights dx", dx, dx0)
		}
		if a := testing.AllocsPerRun(3, func() { c.Forward(x, n); c.Backward(dy) }); a != 0 {
			t.Errorf("%d²: fixed-weights Forward+Backward: %v allocations, want 0", side, a)
		}
		saved := append([]float32(nil), c.Weight.Data...)
		for i := range c.Weight.Data {
			c.Weight.Data[i] *= 1.5
		}
		y, dx := run() // transforms kept: the change is not seen
		same("cached y", y, y0)
		same("cached dx", dx, dx0)
		e.SetWeightsFixed(true) // drops the caches
		y1, dx1 := run()
		e.SetWeightsFixed(false)
		y2, dx2 := run()
		same("y after SetWeightsFixed", y1, y2)
		same("dx after SetWeightsFixed", dx1, dx2)
		if y1[0] == y0[0] && dx1[0] == dx0[0] {
			t.Fatalf("%d²: scaling the weights changed neither y nor dx", side)
		}
		copy(c.Weight.Data, saved)
		if e.SetInference(false); e.WeightsFixed() {
			t.Fatal("SetInference did not end the fixed-weights period")
		}
	}
}

// TestAdyaAVX checks the fused A·dY·Aᵀ kernel of the Winograd weight
// gradient against deint and the two a4 passes of winoGradDYGo, bit for
// bit, with a stream stride larger than the tile count (gaps untouched).
func TestAdyaAVX(t *testing.T) {
	if !haveSIMD() {
		t.Skip("no AVX2+FMA")
	}
	rng := NewRand(22)
	for _, ntx := range []int{8, 16, 32} {
		y0, y1 := randVec(rng, 2*ntx, 1), randVec(rng, 2*ntx, 1)
		y1[3] = 0 // −0 and +0 must come out as a4 makes them
		s := make([][]float32, 4)
		for k := range s {
			s[k] = make([]float32, ntx)
		}
		deint(y0, s[0], s[1])
		deint(y1, s[2], s[3])
		r := make([][]float32, 8)
		for k := range r {
			r[k] = make([]float32, ntx)
		}
		for q := 0; q < 2; q++ {
			a4(s[q], s[2+q], r[q], r[2+q], r[4+q], r[6+q])
		}
		want := make([][]float32, 16)
		for k := range want {
			want[k] = make([]float32, ntx)
		}
		for i := 0; i < 4; i++ {
			a4(r[2*i], r[2*i+1], want[4*i], want[4*i+1], want[4*i+2], want[4*i+3])
		}
		const dst = 70
		got := make([]float32, 15*dst+ntx+5)
		for i := range got {
			got[i] = -7
		}
		adyaAVX(&y0[0], &y1[0], ntx, &got[0], dst)
		for k := 0; k < 16; k++ {
			for j := 0; j < ntx; j++ {
				if g := got[k*dst+j]; math.Float32bits(g) != math.Float32bits(want[k][j]) {
					t.Fatalf("ntx=%d: stream %d[%d] = %g, want %g", ntx, k, j, g, want[k][j])
				}
			}
			end := dst
			if k == 15 {
				end = len(got) - 15*dst
			}
			for j := ntx; j < end; j++ {
				if got[k*dst+j] != -7 {
					t.Fatalf("ntx=%d: wrote stream %d[%d] beyond its tiles", ntx, k, j)
				}
			}
		}
	}
}

// TestWinoGradDYPaths: the weight gradient's dY transform of whole bands
// (the layout winoGradBand's GEMMs read) is the same, bit for bit, through
// adyaAVX as through the Go passes, at the sizes where the kernel runs.
func TestWinoGradDYPaths(t *testing.T) {
	if !haveSIMD() {
		t.Skip("no AVX2+FMA")
	}
	e := testEngine(1)
	defer e.Close()
	rng := NewRand(23)
	for _, side := range []int{16, 32, 64} {
		c := NewConv2D(e, "c", 16, 12, side, side, 3, 1, 1)
		dy := randVec(rng, 12*side*side, 1)
		r0, r1 := 2, side // a band that does not start at row 0
		T := (r1 - r0) / 2 * (side / 2)
		sp, ep := make([]float32, 16*T), make([]float32, 16*T)
		got, want := make([]float32, 16*winoStride(12, T)), make([]float32, 16*winoStride(12, T))
		c.winoGradDY(dy, got, sp, ep, r0, r1, T)
		c.winoGradDYGo(dy, want, sp, ep, r0, r1, T)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%d²: D[%d] = %g with the kernel, %g in Go", side, i, got[i], want[i])
			}
		}
	}
}

// TestKernelPathsWino4Layer runs F(4×4) layers 64 pixels wide (16 tiles
// a row: bt6TileAVX512, at6TileAVX512 and ady4TileAVX512 on the avx512
// path) and 32 pixels wide in bands of two and three rows of tiles (8
// tiles a row: bt6Tile2AVX512, at6Tile2AVX512 and ady4Tile2AVX512 on
// pairs of rows, the AVX2 kernels on the odd one), their AVX2 versions on
// avx2, forward with a residual and backward on every kernel path: y
// against the float64 direct convolution, dx against the float64
// convolution of dy with the flipped kernel, dW and db against the im2col
// layer; the vector paths must agree bit for bit.
func TestKernelPathsWino4Layer(t *testing.T) {
	for _, tc := range []struct{ h, w, rows int }{{8, 64, 4}, {16, 32, 8}, {12, 32, 12}} {
		testWino4Layer(t, tc.h, tc.w, tc.rows)
	}
}

func testWino4Layer(t *testing.T, h, w, rows int) {
	const cin, cout, n = 16, 16, 1
	e := testEngine(1)
	defer e.Close()
	r := NewRand(uint64(w + h))
	x := randVec(r, n*cin*h*w, 1)
	dy := randVec(r, n*cout*h*w, 1)
	s := randVec(r, n*cout*h*w, 1)
	const k = float32(0.7071067811865476)
	newConv := func() *Conv2D {
		c := NewConv2D(e, "c", cin, cout, h, w, 3, 1, 1)
		randomizeParams(c.Params(), NewRand(7), 0.3)
		return c
	}
	// dW, db from the im2col layer (no Winograd) on the best path
	ci := newConv()
	ci.wU, ci.tconv.wU = nil, nil
	ci.Forward(x, n)
	ci.Backward(dy)
	f64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	dw0, db0 := f64(ci.Weight.Grad), f64(ci.Bias.Grad)
	var refY, refDx, refDw []float32
	for _, path := range KernelPaths() {
		withKernelPath(t, path, func(t *testing.T) {
			c := newConv()
			c.setWino4(true)
			if !c.wino4 || !c.tconv.wino4 {
				t.Fatal("F(4×4) not selected for forward and dx")
			}
			c.setTileRows(rows)
			if c.tileRows != rows {
				t.Fatalf("bands of %d rows, want %d", c.tileRows, rows)
			}
			wantY, _, _ := refConv(x, c.Weight.Data, c.Bias.Data, n, cin, cout, h, w, 3, 1, 1)
			for j := range wantY {
				wantY[j] = (wantY[j] + float64(s[j])) * float64(k)
			}
			c.Residual, c.ResidualScale = s, k
			y := append([]float32(nil), c.Forward(x, n)...)
			if err := relErr(y, wantY); err > wino4Tol {
				t.Fatalf("%s %dx%d: y rel. error %g > %g", path, h, w, err, wino4Tol)
			}
			dx := append([]float32(nil), c.Backward(dy)...)
			wf := make([]float32, len(c.Weight.Data))
			for o := 0; o < cout; o++ {
				for i := 0; i < cin; i++ {
					for q := 0; q < 9; q++ {
						wf[(i*cout+o)*9+q] = c.Weight.Data[(o*cin+i)*9+8-q]
					}
				}
			}
			wantDx, _, _ := refConv(dy, wf, make([]float32, cin), n, cout, cin, h, w, 3, 1, 1)
			if err := relErr(dx, wantDx); err > wino4Tol {
				t.Fatalf("%s %dx%d: dx rel. error %g > %g", path, h, w, err, wino4Tol)
			}
			maxRelDiff(t, fmt.Sprintf("%s %dx%d: F(4×4) dW", path, h, w), c.Weight.Grad, dw0, 1e-5)
			maxRelDiff(t, fmt.Sprintf("%s %dx%d: F(4×4) db", path, h, w), c.Bias.Grad, db0, 1e-5)
			if path == "purego" {
				return
			}
			if refY == nil {
				refY, refDx, refDw = y, dx, append([]float32(nil), c.Weight.Grad...)
				return
			}
			for _, v := range []struct {
				name      string
				got, want []float32
			}{{"y", y, refY}, {"dx", dx, refDx}, {"dW", c.Weight.Grad, refDw}} {
				for j := range v.got {
					if math.Float32bits(v.got[j]) != math.Float32bits(v.want[j]) {
						t.Fatalf("%s %dx%d: %s[%d] = %g differs from the %s path's %g", path, h, w, v.name, j, v.got[j], KernelPaths()[0], v.want[j])
					}
				}
			}
		})
	}
}
