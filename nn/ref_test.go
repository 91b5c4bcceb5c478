package nn

import (
	"fmt"
	"math"
	"testing"
)

// Independent float64 reference computations of each layer's forward pass.

func refConv(x, wt, b []float32, n, cin, cout, h, w, k, s, p int) ([]float64, int, int) {
	ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	y := make([]float64, n*cout*ho*wo)
	for i := 0; i < n; i++ {
		for o := 0; o < cout; o++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					acc := float64(b[o])
					for c := 0; c < cin; c++ {
						for u := 0; u < k; u++ {
							for v := 0; v < k; v++ {
								iy, ix := oy*s-p+u, ox*s-p+v
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								acc += float64(wt[((o*cin+c)*k+u)*k+v]) * float64(x[((i*cin+c)*h+iy)*w+ix])
							}
						}
					}
					y[((i*cout+o)*ho+oy)*wo+ox] = acc
				}
			}
		}
	}
	return y, ho, wo
}

func refGroupNorm(x, gam, bet []float32, n, c, hw, g int, act bool) []float64 {
	y := make([]float64, len(x))
	cpg := c / g
	for i := 0; i < n; i++ {
		for k := 0; k < g; k++ {
			var mu, v float64
			m := float64(cpg * hw)
			for cc := k * cpg; cc < (k+1)*cpg; cc++ {
				for j := 0; j < hw; j++ {
					mu += float64(x[(i*c+cc)*hw+j]) / m
				}
			}
			for cc := k * cpg; cc < (k+1)*cpg; cc++ {
				for j := 0; j < hw; j++ {
					d := float64(x[(i*c+cc)*hw+j]) - mu
					v += d * d / m
				}
			}
			for cc := k * cpg; cc < (k+1)*cpg; cc++ {
				for j := 0; j < hw; j++ {
					a := float64(gam[cc])*(float64(x[(i*c+cc)*hw+j])-mu)/math.Sqrt(v+GroupNormEps) + float64(bet[cc])
					if act {
						a = a / (1 + math.Exp(-a))
					}
					y[(i*c+cc)*hw+j] = a
				}
			}
		}
	}
	return y
}

func maxRelDiff(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(v))
	}
	for i, v := range want {
		if d := math.Abs(float64(got[i]) - v); d > tol*(scale+1e-30) {
			t.Fatalf("%s[%d] = %g, reference %g", what, i, got[i], v)
		}
	}
}

func TestConvReference(t *testing.T) {
	rng := NewRand(11)
	for _, workers := range []int{1, 3} {
		e := testEngine(workers)
		for _, tc := range []struct{ cin, cout, h, w, k, s, p int }{
			{3, 5, 7, 6, 3, 1, 1}, {4, 2, 8, 8, 3, 2, 1}, {6, 4, 5, 5, 1, 1, 0}, {2, 3, 9, 7, 3, 2, 0}, {3, 3, 6, 6, 3, 1, 2},
			{5, 3, 6, 20, 3, 2, 1}, {3, 2, 5, 32, 3, 2, 1}, // stride 2, even width: im2colS2
			{16, 5, 8, 6, 3, 1, 1}, {24, 7, 4, 10, 3, 1, 1}, // Winograd
		} {
			c := NewConv2D(e, "c", tc.cin, tc.cout, tc.h, tc.w, tc.k, tc.s, tc.p)
			c.Init(1, rng)
			if want := tc.cin >= 16; c.useWinograd() != want || (c.wU != nil) != want {
				t.Fatalf("%+v: Winograd forward = %v, want %v", tc, c.useWinograd(), want)
			}
			randomizeParams([]*Param{c.Bias}, rng, 1)
			n := 4
			x := randVec(rng, n*tc.cin*tc.h*tc.w, 1)
			want, ho, wo := refConv(x, c.Weight.Data, c.Bias.Data, n, tc.cin, tc.cout, tc.h, tc.w, tc.k, tc.s, tc.p)
			if ho != c.Ho || wo != c.Wo {
				t.Fatalf("output %d×%d, want %d×%d", c.Ho, c.Wo, ho, wo)
			}
			maxRelDiff(t, "conv", c.Forward(x, n), want, 1e-5)
			c.setTileRows(1)
			maxRelDiff(t, "conv(banded)", c.Forward(x, n), want, 1e-5)
		}
		e.Close()
	}
}

func TestGroupNormReference(t *testing.T) {
	rng := NewRand(12)
	e := testEngine(2)
	defer e.Close()
	for _, act := range []bool{false, true} {
		g := NewGroupNorm(e, "g", 12, 10, 3, act)
		randomizeParams(g.Params(), rng, 1)
		x := randVec(rng, 3*12*10, 2)
		for i := range x {
			x[i] += 5 // offset: tests the two-pass variance
		}
		maxRelDiff(t, "groupnorm", g.Forward(x, 3), refGroupNorm(x, g.Gamma.Data, g.Beta.Data, 3, 12, 10, 3, act), 1e-5)
	}
	if Groups(8) != 2 || Groups(128) != 32 || Groups(256) != 32 || Groups(2) != 1 {
		t.Error("Groups(c) ≠ min(c/4, 32)")
	}
}

func TestAttentionReference(t *testing.T) {
	// 3×4 pixels fit one block of the forward pass; 8×9 = 72 make three
	// (32, 32 and 8 pixels), so a wrong block offset breaks it.
	for _, sh := range [][2]int{{3, 4}, {8, 9}} {
		testAttentionReference(t, sh[0], sh[1])
	}
}

func testAttentionReference(t *testing.T, hh, ww int) {
	rng := NewRand(13)
	e := testEngine(2)
	defer e.Close()
	c, n := 8, 2
	p := hh * ww
	a := NewAttnBlock(e, "a", c, hh, ww)
	randomizeParams(a.Params(), rng, 0.5)
	x := randVec(rng, n*c*p, 1)
	h := refGroupNorm(x, a.Norm.Gamma.Data, a.Norm.Beta.Data, n, c, p, Groups(c), false)
	want := make([]float64, n*c*p)
	for i := 0; i < n; i++ {
		q := make([][]float64, 3*c) // q,k,v rows
		for r := 0; r < 3*c; r++ {
			q[r] = make([]float64, p)
			for j := 0; j < p; j++ {
				s := float64(a.BQKV.Data[r])
				for cc := 0; cc < c; cc++ {
					s += float64(a.WQKV.Data[r*c+cc]) * h[(i*c+cc)*p+j]
				}
				q[r][j] = s
			}
		}
		o := make([][]float64, c)
		for cc := range o {
			o[cc] = make([]float64, p)
		}
		for pi := 0; pi < p; pi++ {
			logits := make([]float64, p)
			var mx = math.Inf(-1)
			for pj := 0; pj < p; pj++ {
				var s float64
				for cc := 0; cc < c; cc++ {
					s += q[cc][pi] * q[c+cc][pj]
				}
				logits[pj] = s / math.Sqrt(float64(c))
				mx = max(mx, logits[pj])
			}
			var z float64
			for pj := range logits {
				logits[pj] = math.Exp(logits[pj] - mx)
				z += logits[pj]
			}
			for cc := 0; cc < c; cc++ {
				var s float64
				for pj := 0; pj < p; pj++ {
					s += q[2*c+cc][pj] * logits[pj] / z
				}
				o[cc][pi] = s
			}
		}
		for r := 0; r < c; r++ {
			for j := 0; j < p; j++ {
				s := float64(a.BO.Data[r])
				for cc := 0; cc < c; cc++ {
					s += float64(a.WO.Data[r*c+cc]) * o[cc][j]
				}
				want[(i*c+r)*p+j] = (float64(x[(i*c+r)*p+j]) + s) / math.Sqrt2
			}
		}
	}
	maxRelDiff(t, fmt.Sprintf("attention %d×%d", hh, ww), a.Forward(x, n), want, 1e-5)
}

func TestSmallLayersReference(t *testing.T) {
	rng := NewRand(14)
	e := testEngine(1)
	defer e.Close()
	// nearest ×2 and average pooling
	x := randVec(rng, 2*3*4*5, 1)
	up := NewNearest2(3, 4, 5).Forward(x, 2)
	wantUp := make([]float64, len(up))
	for p := 0; p < 6; p++ {
		for i := 0; i < 8; i++ {
			for j := 0; j < 10; j++ {
				wantUp[(p*8+i)*10+j] = float64(x[(p*4+i/2)*5+j/2])
			}
		}
	}
	maxRelDiff(t, "nearest2", up, wantUp, 0)
	pool := NewAvgPool2(3, 4, 5*2).Forward(x[:2*3*4*5], 1) // 3×4×10 viewed
	wantPool := make([]float64, len(pool))
	for c := 0; c < 3; c++ {
		for i := 0; i < 2; i++ {
			for j := 0; j < 5; j++ {
				var s float64
				for u := 0; u < 2; u++ {
					for v := 0; v < 2; v++ {
						s += float64(x[(c*4+2*i+u)*10+2*j+v])
					}
				}
				wantPool[(c*2+i)*5+j] = s / 4
			}
		}
	}
	maxRelDiff(t, "avgpool2", pool, wantPool, 1e-6)
	// linear
	l := NewLinear(e, "l", 4, 3)
	randomizeParams(l.Params(), rng, 1)
	xl := randVec(rng, 2*4, 1)
	wantL := make([]float64, 6)
	for i := 0; i < 2; i++ {
		for o := 0; o < 3; o++ {
			s := float64(l.Bias.Data[o])
			for k := 0; k < 4; k++ {
				s += float64(l.Weight.Data[o*4+k]) * float64(xl[i*4+k])
			}
			wantL[i*3+o] = s
		}
	}
	maxRelDiff(t, "linear", l.Forward(xl, 2), wantL, 1e-6)
	// fourier
	f := NewFourier("f", 3)
	f.Init(16, rng)
	s := []float32{-1.5, 0.25}
	wantF := make([]float64, 12)
	for i := range s {
		for j := 0; j < 3; j++ {
			a := 2 * math.Pi * float64(s[i]) * float64(f.W.Data[j])
			wantF[i*6+j], wantF[i*6+3+j] = math.Sin(a), math.Cos(a)
		}
	}
	maxRelDiff(t, "fourier", f.Forward(s, 2), wantF, 1e-6)
	// concat and its backward
	cc := NewConcat(nil, 2, 1, 3)
	a, b := randVec(rng, 2*2*3, 1), randVec(rng, 2*1*3, 1)
	y := cc.Forward(a, b, 2)
	wantC := make([]float64, 0, 18)
	for i := 0; i < 2; i++ {
		for _, v := range a[i*6 : (i+1)*6] {
			wantC = append(wantC, float64(v))
		}
		for _, v := range b[i*3 : (i+1)*3] {
			wantC = append(wantC, float64(v))
		}
	}
	maxRelDiff(t, "concat", y, wantC, 0)
	da, db := cc.Backward(y)
	for i := range a {
		if da[i] != a[i] {
			t.Fatal("concat backward does not split dout back into a")
		}
	}
	for i := range b {
		if db[i] != b[i] {
			t.Fatal("concat backward does not split dout back into b")
		}
	}
	// The same on an engine, with images of several copy tasks whose
	// boundary between a and b falls inside a task.
	e2 := NewEngine(NaiveGemm{}, 2)
	defer e2.Close()
	const hw = 20000
	cc = NewConcat(e2, 3, 2, hw)
	a, b = randVec(rng, 2*3*hw, 1), randVec(rng, 2*2*hw, 1)
	y = cc.Forward(a, b, 2)
	for i := 0; i < 2; i++ {
		for j := 0; j < 5*hw; j++ {
			var want float32
			if j < 3*hw {
				want = a[i*3*hw+j]
			} else {
				want = b[i*2*hw+j-3*hw]
			}
			if y[i*5*hw+j] != want {
				t.Fatalf("parallel concat: image %d float %d = %g want %g", i, j, y[i*5*hw+j], want)
			}
		}
	}
	dy := randVec(rng, len(y), 1)
	da, db = cc.Backward(dy)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3*hw; j++ {
			if da[i*3*hw+j] != dy[i*5*hw+j] {
				t.Fatalf("parallel concat backward: da[%d][%d]", i, j)
			}
		}
		for j := 0; j < 2*hw; j++ {
			if db[i*2*hw+j] != dy[i*5*hw+3*hw+j] {
				t.Fatalf("parallel concat backward: db[%d][%d]", i, j)
			}
		}
	}
	if &cc.Forward(a, b, 2)[0] != &y[0] {
		t.Fatal("concat output buffer not reused")
	}
}

// TestVarianceScaling checks the NCSN++ default_init variance scale/fan_avg.
func TestVarianceScaling(t *testing.T) {
	w := make([]float32, 200000)
	VarianceScaling(w, 30, 10, 2, NewRand(1))
	var s, lim float64
	for _, v := range w {
		s += float64(v) * float64(v)
		lim = max(lim, math.Abs(float64(v)))
	}
	want := 2.0 / 20
	if got := s / float64(len(w)); math.Abs(got-want) > 0.01*want {
		t.Errorf("variance %g, want %g", got, want)
	}
	if a := math.Sqrt(3 * want); lim > a {
		t.Errorf("max |w| = %g exceeds bound %g", lim, a)
	}
}

// TestConvResidual: Forward with Residual s and scale k equals (y + s)·k
// of the plain Forward, bit for bit, on the im2col, 1×1, F(2×2) and
// F(4×4) paths, and Forward clears Residual.
func TestConvResidual(t *testing.T) {
	rng := NewRand(21)
	e := testEngine(2)
	defer e.Close()
	for _, tc := range []struct{ cin, cout, h, w, k, s, p int }{
		{3, 5, 7, 6, 3, 1, 1}, {6, 4, 5, 5, 1, 1, 0}, {16, 8, 8, 6, 3, 1, 1}, {16, 8, 32, 32, 3, 1, 1},
	} {
		c := NewConv2D(e, "c", tc.cin, tc.cout, tc.h, tc.w, tc.k, tc.s, tc.p)
		c.Init(1, rng)
		n := 2
		x := randVec(rng, n*tc.cin*tc.h*tc.w, 1)
		plain := append([]float32(nil), c.Forward(x, n)...)
		s := randVec(rng, len(plain), 1)
		const k = float32(0.7071067811865476)
		c.Residual, c.ResidualScale = s, k
		got := c.Forward(x, n)
		for i, v := range plain {
			if want := (v + s[i]) * k; got[i] != want {
				t.Fatalf("%+v: element %d = %g, want %g", tc, i, got[i], want)
			}
		}
		if c.Residual != nil || c.ResidualScale != 0 {
			t.Errorf("%+v: Forward did not clear Residual", tc)
		}
		again := c.Forward(x, n)
		for i, v := range plain {
			if again[i] != v {
				t.Fatalf("%+v: residual leaked into the next Forward", tc)
			}
		}
	}
}
